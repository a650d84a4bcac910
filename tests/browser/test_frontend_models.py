"""The model library against ``nodehost serve`` in real Chromium: the frontend lists the user's checkpoints
(``/experiment/models``, titles from ``/view_metadata``), shows a model's preview (``/experiment/models/preview``,
from the picture beside it) and a click on a model puts its loader node on the canvas. Screenshots in tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.timeout(120)


def test_model_library_lists_a_checkpoint_with_title_and_preview_and_adds_its_loader(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    torch = pytest.importorskip("torch")
    checkpoints = quiet_served.root / "models" / "checkpoints"
    checkpoints.mkdir(parents=True)
    safetensors.save_file({"w": torch.zeros(2)}, str(checkpoints / "tiny_model.safetensors"),
                          metadata={"modelspec.title": "Tiny Test Model"})
    Image.new("RGB", (48, 48), (220, 20, 120)).save(checkpoints / "tiny_model.png")  # its preview
    page = open_page(quiet_served, console, tmp_path / "1-loaded.png")
    page.evaluate("() => window.app.graph.clear()")
    page.locator(".model-library-tab-button").click()
    with page.expect_response(lambda r: "/api/experiment/models/preview/checkpoints/0/" in r.url) as preview:
        with page.expect_response(lambda r: "/api/experiment/models/checkpoints" in r.url) as listed:
            page.get_by_text("checkpoints", exact=True).first.click()
    assert [m["name"] for m in listed.value.json()] == ["tiny_model.safetensors"]
    assert preview.value.status == 200 and preview.value.headers["content-type"] == "image/webp"
    entry = page.get_by_role("treeitem").get_by_text("Tiny Test Model", exact=True)  # title from its metadata
    entry.wait_for(timeout=15_000)
    page.screenshot(path=str(tmp_path / "2-library.png"))
    # the model's icon in the tree is the picture beside it, as WebP
    icon = page.locator(".model-lib-model-icon").first
    icon.wait_for(timeout=10_000)
    assert "/api/experiment/models/preview/checkpoints/0/tiny_model.webp" in icon.get_attribute("style")
    entry.hover()  # the preview card, with the title
    page.locator("#model-library-model-preview-container").get_by_text("Tiny Test Model").wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "3-preview.png"))
    entry.click()
    page.wait_for_function("() => window.app.graph._nodes.length === 1", timeout=10_000)
    page.screenshot(path=str(tmp_path / "4-loader.png"))
    assert page.evaluate("() => window.app.graph._nodes.map(n => [n.type, n.widgets[0].value])") == [
        ["CheckpointLoaderSimple", "tiny_model.safetensors"]]
    assert console.unexpected() == [], console.unexpected()
