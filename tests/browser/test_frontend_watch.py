"""``nodehost serve --watch-packs`` with the official frontend open in real Chromium: the test edits a node pack
under the running server (one node added, one removed) and the open page, never reloaded, registers the new node
and drops the removed one, in LiteGraph's node types and in the node library sidebar (nodehost's listener,
/extensions/nodehost/watch_packs.js, on ``nodehost.node_defs_changed``). Screenshots in tmp."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(150)

NODE = '''
class {cls}:
    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"text": ("STRING", {{"default": "{cls}"}})}}}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    CATEGORY = "watch_test"

    def run(self, text):
        return (text,)
'''


def pack_source(*classes: str) -> str:
    mappings = ", ".join(f'"{c}": {c}' for c in classes)
    names = ", ".join(f'"{c}": "{c[:5]} {c[5:]}"' for c in classes)  # WatchNew -> "Watch New"
    return ("".join(NODE.format(cls=c) for c in classes) + f"\nNODE_CLASS_MAPPINGS = {{{mappings}}}\n"
            f"NODE_DISPLAY_NAME_MAPPINGS = {{{names}}}\n")


def registered(page: Any) -> set[str]:
    return set(page.evaluate("() => Object.keys(window.LiteGraph.registered_node_types)"))


def test_an_edited_pack_updates_the_open_page_without_a_reload(open_page: Any, console: Any, serve_with: Any,
                                                               tmp_path: Path) -> None:
    def lay_out(root: Path) -> None:
        (root / "custom_nodes" / "watch_pack").mkdir(parents=True)
        (root / "custom_nodes" / "watch_pack" / "__init__.py").write_text(pack_source("WatchOld"))

    served = serve_with(["--watch-packs"], lay_out)
    pack = served.root / "custom_nodes" / "watch_pack"
    deadline = time.monotonic() + 60
    while not served.get("/nodehost/packs")[0]["watched"]:  # edits count once the watch has its baseline
        assert time.monotonic() < deadline, served.get("/nodehost/packs")
        time.sleep(0.2)
    page = open_page(served, console, tmp_path / "1-loaded.png")
    assert "WatchOld" in registered(page) and "WatchNew" not in registered(page)
    page.evaluate("() => { window.__not_reloaded = true; }")
    page.locator(".node-library-tab-button").click()
    page.get_by_role("treeitem").get_by_text("watch_test", exact=True).click()  # the pack's category, opened
    page.get_by_role("treeitem").get_by_text("Watch Old", exact=True).wait_for(timeout=15_000)
    page.screenshot(path=str(tmp_path / "2-library-before.png"))

    (pack / "__init__.py").write_text(pack_source("WatchNew"))  # WatchOld removed, WatchNew added
    page.wait_for_function("""() => {
        const types = window.LiteGraph.registered_node_types;
        return 'WatchNew' in types && !('WatchOld' in types);
    }""", timeout=60_000)
    assert page.evaluate("() => window.__not_reloaded") is True
    assert page.evaluate("() => window.LiteGraph.registered_node_types['WatchNew'].category") == "watch_test"
    page.get_by_role("treeitem").get_by_text("Watch New", exact=True).wait_for(timeout=15_000)
    assert page.get_by_role("treeitem").get_by_text("Watch Old", exact=True).count() == 0
    page.screenshot(path=str(tmp_path / "3-library-after.png"))
    # the new node is usable on the canvas as any node is
    assert page.evaluate("""() => {
        const node = window.LiteGraph.createNode('WatchNew');
        window.app.graph.add(node);
        return node.widgets.map(w => [w.name, w.value]);
    }""") == [["text", "WatchNew"]]
    [status] = served.get("/nodehost/packs")
    assert status["last_reload"]["added"] == ["WatchNew"] and status["last_reload"]["removed"] == ["WatchOld"]
    assert console.unexpected() == [], console.unexpected()
