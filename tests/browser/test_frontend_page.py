"""The official ComfyUI frontend against nodehost in real Chromium: the page loads cleanly, the node library
lists nodehost's nodes, a workflow of builtin nodes is queued from the page and its image shows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(180)


def test_page_loads_without_unexpected_console_errors(page: tuple[Any, Any], tmp_path: Path) -> None:
    p, console = page
    p.wait_for_timeout(2000)  # late requests (settings, templates, i18n) after the app is up
    p.screenshot(path=str(tmp_path / "settled.png"))
    assert console.unexpected() == []


def test_node_library_lists_nodehost_nodes(page: tuple[Any, Any], served: Any) -> None:
    p, _ = page
    registered = p.evaluate("() => Object.keys(window.LiteGraph.registered_node_types)")
    info = served.get("/object_info")
    assert {"EmptyImage", "SaveImage", "StringConcatenate"} <= set(registered)
    assert set(info) <= set(registered)
    category = p.evaluate("() => window.LiteGraph.registered_node_types['EmptyImage'].category")
    assert category == info["EmptyImage"]["category"]


def test_builtin_workflow_queues_from_the_page_and_its_image_shows(page: tuple[Any, Any], served: Any,
                                                                    tmp_path: Path) -> None:
    p, console = page
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                            "color": 16711680}},
              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "browser"}}}
    p.evaluate("(prompt) => window.app.loadApiJson(prompt, 'browser.json')", prompt)
    p.wait_for_timeout(500)
    p.screenshot(path=str(tmp_path / "graph.png"))
    p.evaluate("() => window.app.queuePrompt(0, 1)")
    deadline = time.monotonic() + 60
    history: dict[str, Any] = {}
    while time.monotonic() < deadline and not history:
        history = served.get("/history")
        time.sleep(0.3)
    [(prompt_id, entry)] = history.items()
    assert entry["status"]["status_str"] == "success"
    [image] = entry["outputs"]["2"]["images"]
    assert (served.root / "output" / image["filename"]).is_file()
    p.wait_for_function("() => { const n = window.app.graph.getNodeById(2); return n && n.imgs && n.imgs.length }",
                        timeout=30_000)
    p.screenshot(path=str(tmp_path / "image.png"))
    assert console.unexpected() == []


def test_default_workflow_runs(page: tuple[Any, Any], served: Any) -> None:
    info = served.get("/object_info")
    needed = {"CheckpointLoaderSimple", "CLIPTextEncode", "KSampler", "EmptyLatentImage", "VAEDecode"}
    assert needed <= set(info)
    import subprocess
    import sys

    checkpoints = served.root / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", "sd15", "--size",
                    "small", "--out", str(checkpoints / "tiny.safetensors")], check=True, timeout=120)
    p, console = page
    p.evaluate("() => window.app.loadGraphData()")  # the frontend's own default workflow
    p.wait_for_timeout(500)
    types = p.evaluate("() => window.app.graph._nodes.map(n => n.type)")
    assert needed | {"SaveImage"} <= set(types)
    # the user's own checkpoint, and a size and step count a 2-core CI box makes in seconds
    p.evaluate("""() => {
        const set = (type, name, value) => {
            for (const n of window.app.graph._nodes.filter(n => n.type === type))
                n.widgets.find(w => w.name === name).value = value;
        };
        set('CheckpointLoaderSimple', 'ckpt_name', 'tiny.safetensors');
        set('EmptyLatentImage', 'width', 64); set('EmptyLatentImage', 'height', 64);
        set('KSampler', 'steps', 2);
    }""")
    p.evaluate("() => window.app.queuePrompt(0, 1)")
    deadline = time.monotonic() + 120
    history: dict[str, Any] = {}
    while time.monotonic() < deadline and not history:
        history = served.get("/history")
        time.sleep(0.5)
    [(_, entry)] = history.items()
    assert entry["status"]["status_str"] == "success", entry["status"]
    [image] = next(o["images"] for o in entry["outputs"].values() if "images" in o)
    assert (served.root / "output" / image["filename"]).is_file()
    # the page got the SaveImage output (the default canvas puts that node off-screen, so it draws no <img>)
    p.wait_for_function("""(file) => Object.values(window.app.nodeOutputs || {}).some(
        o => (o.images || []).some(i => i.filename === file))""", arg=image["filename"], timeout=30_000)
    assert console.unexpected() == []
