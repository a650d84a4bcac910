"""Hand-made UI-format workflows (what the web frontend saves) shared by the converter's tests and the browser
tests that compare it with the frontend's own graphToPrompt."""

from __future__ import annotations

from typing import Any


def node(id_: int, type_: str, widgets: Any = None, inputs: list[dict[str, Any]] | None = None,
         mode: int = 0, outputs: int = 1) -> dict[str, Any]:
    return {"id": id_, "type": type_, "mode": mode, "widgets_values": widgets if widgets is not None else [],
            "inputs": inputs or [], "outputs": [{"name": "out", "links": []} for _ in range(outputs)]}


def inp(name: str, type_: str, link: int | None, widget: bool = False) -> dict[str, Any]:
    return {"name": name, "type": type_, "link": link} | ({"widget": {"name": name}} if widget else {})


def image_workflow() -> dict[str, Any]:
    """EmptyImage (width from a PrimitiveNode) -> Reroute -> bypassed ImageInvert -> SaveImage; a muted
    PreviewImage; a Note."""
    return {"nodes": [
        node(1, "EmptyImage", [64, 32, 1, 255, "ignored"], [inp("width", "INT", 10, widget=True)]),
        node(2, "Reroute", [], [inp("", "*", 2)]),
        node(3, "ImageInvert", [], [inp("image", "IMAGE", 3)], mode=4),
        node(4, "SaveImage", ["ui"], [inp("images", "IMAGE", 4)]),
        node(5, "PreviewImage", [], [inp("images", "IMAGE", 5)], mode=2),
        node(6, "Note", ["a note"]),
        node(7, "PrimitiveNode", [48, "fixed"]),
    ], "links": [[10, 7, 0, 1, 0, "INT"], [2, 1, 0, 2, 0, "IMAGE"], [3, 2, 0, 3, 0, "IMAGE"],
                 [4, 3, 0, 4, 0, "IMAGE"], [5, 1, 0, 5, 0, "IMAGE"]], "version": 0.4}
