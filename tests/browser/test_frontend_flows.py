"""What a user does in the official frontend, in real Chromium against ``nodehost serve``: upload an image with
LoadImage's button and queue it, drop an output PNG back onto the canvas to get its workflow, open a workflow
with a node nodehost lacks, queue a graph that fails validation. Each step leaves a screenshot in the tmp folder.
(Settings and saved workflows: test_frontend_persistence.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser.canvas_steps import (
    build,
    drop_file,
    graph_summary,
    node_middle,
    red_pixels,
    run_from_page,
    wait_history,
    widget_point,
)
from PIL import Image

pytestmark = pytest.mark.timeout(120)


def test_image_uploaded_with_load_image_button_is_used(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    inputs = served.root / "input"
    inputs.mkdir()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(inputs / "already_there.png")  # LoadImage's default pick
    upload = tmp_path / "my photo.png"
    Image.new("RGB", (40, 24), (10, 200, 30)).save(upload)
    page = open_page(served, console, tmp_path / "1-loaded.png")
    load, save = build(page, [("LoadImage", [300, 250], {}),
                              ("SaveImage", [800, 250], {"filename_prefix": "uploaded"})], [(0, 0, 1, 0)])
    page.wait_for_timeout(300)
    assert page.evaluate("(id) => window.app.graph.getNodeById(id).widgets[0].value", load) == "already_there.png"
    page.screenshot(path=str(tmp_path / "2-graph.png"))

    with page.expect_file_chooser(timeout=10_000) as chooser:  # the node's own "choose file to upload" button
        page.mouse.click(*widget_point(page, load, "upload"))
    with page.expect_response(lambda r: "/upload/image" in r.url) as uploaded:
        chooser.value.set_files(str(upload))
    assert uploaded.value.status == 200
    assert uploaded.value.json() == {"name": "my photo.png", "subfolder": "", "type": "input"}
    assert (inputs / "my photo.png").read_bytes() == upload.read_bytes()
    page.wait_for_function("(id) => { const n = window.app.graph.getNodeById(id); return n.imgs && n.imgs.length "
                           "&& n.imgs[0].complete && n.imgs[0].naturalWidth === 40 }", arg=load, timeout=15_000)
    assert page.evaluate("(id) => window.app.graph.getNodeById(id).widgets[0].value", load) == "my photo.png"
    page.screenshot(path=str(tmp_path / "3-uploaded.png"))

    run_from_page(page)
    [entry] = wait_history(served).values()
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["prompt"][2][str(load)]["inputs"]["image"] == "my photo.png"
    [image] = entry["outputs"][str(save)]["images"]
    with Image.open(served.root / "output" / image["filename"]) as out:
        assert out.size == (40, 24) and out.convert("RGB").getpixel((5, 5)) == (10, 200, 30)
    page.wait_for_function("(id) => { const n = window.app.graph.getNodeById(id); return n.imgs && n.imgs.length }",
                           arg=save, timeout=15_000)
    page.screenshot(path=str(tmp_path / "4-queued.png"))
    assert console.unexpected() == []


def test_upload_of_a_taken_name_is_renamed_and_an_image_dropped_on_load_image_is_uploaded(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    inputs = served.root / "input"
    inputs.mkdir()
    Image.new("RGB", (8, 8), (0, 0, 0)).save(inputs / "photo.png")
    same = tmp_path / "same" / "photo.png"
    same.parent.mkdir()
    same.write_bytes((inputs / "photo.png").read_bytes())
    other = tmp_path / "other" / "photo.png"
    other.parent.mkdir()
    Image.new("RGB", (12, 12), (250, 250, 0)).save(other)
    page = open_page(served, console, tmp_path / "1-loaded.png")
    [load] = build(page, [("LoadImage", [300, 250], {})])
    answers = []
    for i, path in enumerate([same, other]):
        with page.expect_file_chooser(timeout=10_000) as chooser:
            page.mouse.click(*widget_point(page, load, "upload"))
        with page.expect_response(lambda r: "/upload/image" in r.url) as uploaded:
            chooser.value.set_files(str(path))
        answers.append(uploaded.value.json()["name"])
        page.wait_for_function("([id, name]) => window.app.graph.getNodeById(id).widgets[0].value === name",
                               arg=[load, answers[-1]], timeout=10_000)
        page.screenshot(path=str(tmp_path / f"{2 + i}-uploaded.png"))
    # the same bytes under a taken name reuse the file; other bytes get the next free name, as ComfyUI does
    assert answers == ["photo.png", "photo (1).png"]
    assert (inputs / "photo (1).png").read_bytes() == other.read_bytes()

    dropped = tmp_path / "dropped on node.png"
    Image.new("RGB", (20, 10), (0, 90, 250)).save(dropped)
    with page.expect_response(lambda r: "/upload/image" in r.url) as uploaded:
        drop_file(page, dropped.name, dropped.read_bytes(), "image/png", node_middle(page, load))
    assert uploaded.value.json() == {"name": "dropped on node.png", "subfolder": "", "type": "input"}
    assert (inputs / "dropped on node.png").read_bytes() == dropped.read_bytes()
    page.wait_for_function("(id) => { const n = window.app.graph.getNodeById(id); return n.imgs && n.imgs.length "
                           "&& n.imgs[0].complete && n.imgs[0].naturalWidth === 20 }", arg=load, timeout=15_000)
    assert page.evaluate("(id) => window.app.graph.getNodeById(id).widgets[0].value", load) == "dropped on node.png"
    assert len(page.evaluate("() => window.app.graph._nodes")) == 1  # the drop went to the node, no new graph
    page.screenshot(path=str(tmp_path / "4-dropped.png"))
    assert console.unexpected() == [], console.unexpected()


def test_output_png_dropped_on_canvas_restores_its_workflow(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    page = open_page(served, console, tmp_path / "1-loaded.png")
    image, save = build(page, [("EmptyImage", [300, 250], {"width": 48, "height": 40, "color": 0x3366CC}),
                               ("SaveImage", [800, 250], {"filename_prefix": "dropped"})], [(0, 0, 1, 0)])
    page.wait_for_timeout(300)
    queued = graph_summary(page)
    page.screenshot(path=str(tmp_path / "2-graph.png"))
    run_from_page(page)
    [entry] = wait_history(served).values()
    assert entry["status"]["status_str"] == "success", entry["status"]
    [out] = entry["outputs"][str(save)]["images"]
    png = served.root / "output" / out["filename"]
    with Image.open(png) as im:
        chunks = dict(im.text)
    assert {n["type"] for n in json.loads(chunks["workflow"])["nodes"]} == {"EmptyImage", "SaveImage"}
    assert json.loads(chunks["prompt"]) == entry["prompt"][2]

    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.NewBlankWorkflow')")
    page.wait_for_function("() => window.app.graph._nodes.length === 0", timeout=10_000)
    page.screenshot(path=str(tmp_path / "3-blank.png"))
    drop_file(page, png.name, png.read_bytes(), "image/png")
    page.wait_for_function("() => window.app.graph._nodes.length === 2", timeout=15_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "4-dropped.png"))
    assert graph_summary(page) == queued
    assert page.evaluate("() => window.app.graph.links.size ?? Object.keys(window.app.graph.links).length") == 1
    restored = page.evaluate("async () => (await window.app.graphToPrompt()).output")
    assert restored == entry["prompt"][2]
    path = page.evaluate("() => window.app.extensionManager.workflow.activeWorkflow.path")
    assert path == f"workflows/{png.stem}.json"
    assert console.unexpected() == []


MISSING_WORKFLOW = {
    "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
    "nodes": [
        {"id": 1, "type": "EmptyImage", "pos": [300, 250], "size": [300, 150], "flags": {}, "order": 0, "mode": 0,
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "properties": {},
         "widgets_values": [64, 64, 1, 0]},
        {"id": 2, "type": "NoSuchNodeAnywhere", "pos": [800, 250], "size": [300, 100], "flags": {}, "order": 1,
         "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 1}], "properties": {},
         "widgets_values": ["kept"]}],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
}


def test_workflow_with_an_unknown_node_shows_the_missing_nodes_dialog(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    page = open_page(quiet_served, console, tmp_path / "1-loaded.png")
    drop_file(page, "needs a pack.json", json.dumps(MISSING_WORKFLOW).encode(), "application/json")
    dialog = page.locator(".p-dialog").filter(has_text="missing nodes")
    dialog.wait_for(timeout=15_000)
    page.screenshot(path=str(tmp_path / "2-missing-nodes.png"))
    assert "NoSuchNodeAnywhere" in dialog.inner_text()
    # the graph loaded around the missing node: both nodes and their link are there, the page still works
    assert sorted(page.evaluate("() => window.app.graph._nodes.map(n => n.type)")) == ["EmptyImage",
                                                                                       "NoSuchNodeAnywhere"]
    assert page.evaluate("() => window.app.graph.getNodeById(2).has_errors") is True
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    page.screenshot(path=str(tmp_path / "3-closed.png"))
    saved = page.evaluate("async () => (await window.app.graphToPrompt()).workflow")
    assert [n["widgets_values"] for n in saved["nodes"] if n["type"] == "NoSuchNodeAnywhere"] == [["kept"]]
    assert console.unexpected() == []


def test_validation_error_shows_the_error_dialog_and_highlights_the_node(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    page = open_page(served, console, tmp_path / "1-loaded.png")
    image, save = build(page, [("EmptyImage", [300, 250], {}), ("SaveImage", [800, 250], {})])  # images unlinked
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "2-graph.png"))
    with page.expect_response(lambda r: r.url.endswith("/api/prompt") and r.request.method == "POST") as answer:
        run_from_page(page)
    assert answer.value.status == 400
    body = answer.value.json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert [e["type"] for e in body["node_errors"][str(save)]["errors"]] == ["required_input_missing"]
    dialog = page.locator(".p-dialog").filter(has_text="Prompt execution failed")
    dialog.wait_for(timeout=15_000)
    text = dialog.inner_text()
    assert "Required input is missing: images" in text and "SaveImage" in text
    flags = page.evaluate("""(ids) => ids.map(id => { const n = window.app.graph.getNodeById(id);
        return [!!n.has_errors, (n.inputs || []).filter(i => i.hasErrors).map(i => i.name)]; })""", [image, save])
    assert flags == [[False, []], [True, ["images"]]]
    page.screenshot(path=str(tmp_path / "3-error-dialog.png"))
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden", timeout=5_000)
    shot = tmp_path / "4-highlighted.png"
    page.screenshot(path=str(shot))
    assert red_pixels(page, shot, image) == 0 and red_pixels(page, shot, save) > 200  # the red outline drawn
    assert served.get("/history") == {}
    assert console.unexpected({
        "400 /api/prompt": "the test queues an invalid prompt on purpose; ComfyUI answers it 400 too",
        "PromptExecutionError": "the frontend logs the rejected prompt before it opens its error dialog",
    }) == []
