"""Steps on the frontend's canvas for the browser tests: build a graph as the node library does, find where a
node or widget is drawn, press Run, wait for /history, drop a file as a file manager does."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

Node = tuple[str, list[int], dict[str, Any]]  # class, position on the canvas, widget values by name


def build(page: Any, nodes: list[Node], links: list[tuple[int, int, int, int]] = ()) -> list[int]:
    """Replace the graph with ``nodes`` (made as the node library makes them) linked by ``links``
    (from node index, output slot, to node index, input slot); their ids in order."""
    return page.evaluate("""([nodes, links]) => {
        const graph = window.app.graph;
        graph.clear();
        const made = nodes.map(([type, pos, values]) => {
            const node = window.LiteGraph.createNode(type);
            node.pos = pos;
            graph.add(node);
            for (const [name, value] of Object.entries(values)) node.widgets.find(w => w.name === name).value = value;
            return node;
        });
        for (const [a, out, b, inp] of links) made[a].connect(out, made[b], inp);
        window.app.canvas.setDirty(true, true);
        return made.map(n => n.id);
    }""", [nodes, list(links)])


def widget_point(page: Any, node_id: int, widget: str) -> tuple[float, float]:
    """Where on the page the middle of a node's widget is drawn (once the canvas has drawn it)."""
    page.wait_for_function("([id, name]) => window.app.graph.getNodeById(id).widgets.find(w => w.name === name)"
                           ".last_y !== undefined", arg=[node_id, widget], timeout=5_000)
    return tuple(page.evaluate("""([id, name]) => {
        const canvas = window.app.canvas, node = window.app.graph.getNodeById(id);
        const w = node.widgets.find(w => w.name === name);
        const rect = canvas.canvas.getBoundingClientRect(), ds = canvas.ds;
        const x = node.pos[0] + node.size[0] / 2, y = node.pos[1] + w.last_y + (w.computedHeight || 20) / 2;
        return [rect.left + (x + ds.offset[0]) * ds.scale, rect.top + (y + ds.offset[1]) * ds.scale];
    }""", [node_id, widget]))


def run_from_page(page: Any) -> None:
    page.get_by_role("button", name="Run", exact=True).click()


def wait_history(served: Any, count: int = 1, timeout: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = served.get("/history")
        if len(history) >= count and all(e["status"].get("completed") is not None for e in history.values()):
            return history
        time.sleep(0.3)
    raise AssertionError(f"no {count} finished prompt(s) in /history after {timeout} s: {served.get('/history')}")


def drop_file(page: Any, name: str, data: bytes, mime: str, at: tuple[float, float] | None = None) -> None:
    """Drop a file onto the canvas (at the page point ``at``, else its middle) as a file manager does: a
    DataTransfer holding it, dragenter, dragover, drop."""
    page.evaluate("""([name, b64, mime, at]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type: mime}));
        const target = window.app.canvas.canvas, rect = target.getBoundingClientRect();
        const [clientX, clientY] = at || [rect.left + rect.width / 2, rect.top + rect.height / 2];
        for (const type of ['dragenter', 'dragover', 'drop'])
            target.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true,
                                                      clientX, clientY}));
    }""", [name, base64.b64encode(data).decode(), mime, list(at) if at else None])


def graph_summary(page: Any) -> list[tuple[str, list[Any]]]:
    """(type, widget values) of each node, ordered by id."""
    nodes = page.evaluate("""() => window.app.graph._nodes.slice().sort((a, b) => a.id - b.id)
        .map(n => [n.type, (n.widgets || []).filter(w => !w.name.startsWith('$$') && w.type !== 'button')
                                           .map(w => w.value)])""")
    return [(t, v) for t, v in nodes]


def red_pixels(page: Any, shot: Path, node_id: int) -> int:
    """Strongly red pixels of a screenshot in and just around a node's box (title bar included)."""
    left, top, right, bottom = page.evaluate("""(id) => {
        const canvas = window.app.canvas, node = window.app.graph.getNodeById(id);
        const rect = canvas.canvas.getBoundingClientRect(), ds = canvas.ds;
        const at = (x, y) => [rect.left + (x + ds.offset[0]) * ds.scale, rect.top + (y + ds.offset[1]) * ds.scale];
        const title = window.LiteGraph.NODE_TITLE_HEIGHT, pad = 12;
        return [...at(node.pos[0] - pad, node.pos[1] - title - pad),
                ...at(node.pos[0] + node.size[0] + pad, node.pos[1] + node.size[1] + pad)];
    }""", node_id)
    with Image.open(shot) as im:
        box = np.asarray(im.convert("RGB").crop((int(left), int(top), int(right), int(bottom))), dtype=np.int32)
    return int(((box[..., 0] > 150) & (box[..., 1] < 60) & (box[..., 2] < 60)).sum())


def node_middle(page: Any, node_id: int) -> tuple[float, float]:
    return tuple(page.evaluate("""(id) => {
        const canvas = window.app.canvas, node = window.app.graph.getNodeById(id);
        const rect = canvas.canvas.getBoundingClientRect(), ds = canvas.ds;
        return [rect.left + (node.pos[0] + node.size[0] / 2 + ds.offset[0]) * ds.scale,
                rect.top + (node.pos[1] + node.size[1] / 2 + ds.offset[1]) * ds.scale];
    }""", node_id))
