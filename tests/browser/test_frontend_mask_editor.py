"""The frontend's mask editor against ``nodehost serve`` in real Chromium: a stroke painted with the mouse on a
LoadImage's picture is saved through /upload/mask and /upload/image into input/clipspace, the server puts the
mask into the original's alpha, and the queued graph's MASK output is that stroke. Screenshots in tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser.canvas_steps import build, run_from_page, wait_history
from PIL import Image

pytestmark = pytest.mark.timeout(120)


def test_stroke_painted_in_the_mask_editor_is_saved_and_queued_as_the_mask(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    inputs = served.root / "input"
    inputs.mkdir()
    Image.new("RGB", (64, 64), (0, 128, 255)).save(inputs / "square.png")
    page = open_page(served, console, tmp_path / "1-loaded.png")
    load, _, save = build(page, [("LoadImage", [300, 250], {"image": "square.png"}), ("MaskToImage", [700, 250], {}),
                                 ("SaveImage", [1000, 250], {"filename_prefix": "mask"})], [(0, 1, 1, 0), (1, 0, 2, 0)])
    page.wait_for_function("(id) => { const n = window.app.graph.getNodeById(id); "
                           "return n.imgs && n.imgs.length && n.imgs[0].complete }", arg=load, timeout=10_000)
    page.evaluate("(id) => window.app.canvas.selectNode(window.app.graph.getNodeById(id))", load)
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.MaskEditor.OpenMaskEditor')")
    editor = page.locator(".mask-editor-dialog")
    editor.wait_for(timeout=10_000)
    surface = editor.locator("canvas").first
    surface.wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    box = surface.bounding_box()
    # a horizontal stroke across the left third, at mid height, with the default brush
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=10)
    page.mouse.up()
    page.screenshot(path=str(tmp_path / "2-painted.png"))

    uploads: list[tuple[str, int, Any]] = []
    page.on("response", lambda r: uploads.append((r.url.split("/api/")[-1], r.status, r.json()))
            if "/api/upload/" in r.url else None)
    editor.get_by_role("button", name="Save").click()
    editor.wait_for(state="hidden", timeout=15_000)
    page.wait_for_function("(id) => window.app.graph.getNodeById(id).widgets[0].value.startsWith('clipspace/')",
                           arg=load, timeout=10_000)
    value = page.evaluate("(id) => window.app.graph.getNodeById(id).widgets[0].value", load)
    page.screenshot(path=str(tmp_path / "3-saved.png"))
    assert sorted(route for route, _, _ in uploads) == ["upload/image", "upload/image", "upload/mask", "upload/mask"]
    assert all(status == 200 and answer["subfolder"] == "clipspace" and answer["type"] == "input"
               for _, status, answer in uploads)
    masked_name = value.removeprefix("clipspace/").removesuffix(" [input]")
    assert value == f"clipspace/{masked_name} [input]" and masked_name.startswith("clipspace-painted-masked-")
    with Image.open(inputs / "clipspace" / masked_name) as im:
        masked = np.asarray(im.convert("RGBA"))
    # the server kept the picture and put the painted mask into its alpha: 0 under the stroke, 255 away from it
    assert masked.shape == (64, 64, 4) and (masked[..., :3] == (0, 128, 255)).all()
    assert masked[32, 12, 3] == 0 and masked[32, 50, 3] == 255 and masked[5, 12, 3] == 255

    run_from_page(page)
    [entry] = wait_history(served).values()
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert entry["prompt"][2][str(load)]["inputs"]["image"] == value
    [image] = entry["outputs"][str(save)]["images"]
    with Image.open(served.root / "output" / image["filename"]) as im:
        mask = np.asarray(im.convert("L"))
    assert mask[32, 12] == 255 and mask[32, 50] == 0 and mask[5, 12] == 0  # LoadImage's MASK is 1 - alpha
    page.screenshot(path=str(tmp_path / "4-queued.png"))
    assert console.unexpected() == [], console.unexpected()
