"""What the official frontend keeps on the server, in real Chromium against ``nodehost serve``: a setting changed
in the settings dialog survives a reload and a server restart; a workflow saved from the workflow menu is
written to the user's folder, listed in the workflows sidebar, and reopens from it in a new browser. Each step
leaves a screenshot in the tmp folder."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

SETTING = "Comfy.DevMode"  # "Enable dev mode options (API save, etc.)", a toggle, off by default


def open_settings(page: Any) -> Any:
    """The settings dialog opened with the side bar's gear button, searched for dev mode."""
    page.get_by_role("button", name="Settings (Ctrl + ,)").click()
    dialog = page.locator(".p-dialog").filter(has=page.get_by_placeholder("Search Settings..."))
    dialog.wait_for(timeout=10_000)
    dialog.get_by_placeholder("Search Settings...").fill("dev mode")
    page.locator(f'[id="{SETTING}"]').wait_for(timeout=10_000)
    return dialog


def toggle_state(page: Any) -> str:
    return page.locator(f'[id="{SETTING}"] input').get_attribute("aria-checked")


def setting_in_page(page: Any) -> Any:
    return page.evaluate("(id) => window.app.extensionManager.setting.get(id)", SETTING)


def test_setting_changed_in_the_dialog_survives_reload_and_restart(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    settings_file = served.root / "user" / "default" / "comfy.settings.json"
    page = open_page(served, console, tmp_path / "1-loaded.png")
    assert setting_in_page(page) is False
    open_settings(page)
    assert toggle_state(page) == "false"
    page.screenshot(path=str(tmp_path / "2-dialog.png"))
    with page.expect_response(lambda r: r.request.method == "POST" and "/api/settings/" in r.url) as posted:
        page.locator(f'[id="{SETTING}"]').click()
    assert posted.value.status == 200 and posted.value.url.endswith(f"/api/settings/{SETTING}")
    page.wait_for_function("(id) => window.app.extensionManager.setting.get(id) === true", arg=SETTING)
    page.screenshot(path=str(tmp_path / "3-changed.png"))
    assert served.get(f"/settings/{SETTING}") is True
    assert json.loads(settings_file.read_text())[SETTING] is True

    page.reload(wait_until="domcontentloaded")
    page.wait_for_function("() => window.app && window.app.graph && window.app.extensionManager", timeout=60_000)
    assert setting_in_page(page) is True
    open_settings(page)
    assert toggle_state(page) == "true"
    page.screenshot(path=str(tmp_path / "4-reloaded.png"))

    page.context.close()  # a page left open would log its lost connection while the server is down
    served.restart()  # same user folder, same port; a new browser context (no local storage carried over)
    again = open_page(served, console, tmp_path / "5-restarted.png")
    assert setting_in_page(again) is True
    open_settings(again)
    assert toggle_state(again) == "true"
    again.screenshot(path=str(tmp_path / "6-restarted-dialog.png"))
    assert json.loads(settings_file.read_text())[SETTING] is True
    assert console.unexpected() == [], console.unexpected()


def workflow_menu(page: Any, item: str) -> None:
    """Pick ``item`` in the menu of the workflow's name at the top of the canvas."""
    page.locator(".subgraph-breadcrumb .p-breadcrumb-item-link").click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def wait_listed(served: Any, name: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    listed: list[str] = []
    while time.monotonic() < deadline:
        try:
            listed = served.get("/userdata?dir=workflows")
        except OSError:  # 404 until the folder exists
            listed = []
        if name in listed:
            return listed
        time.sleep(0.2)
    raise AssertionError(f"{name!r} not in /userdata?dir=workflows: {listed}")


def test_workflow_saved_from_the_menu_is_listed_and_reopens(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    page = open_page(served, console, tmp_path / "1-loaded.png")
    page.evaluate("""() => {
        const graph = window.app.graph;
        graph.clear();
        const image = window.LiteGraph.createNode('EmptyImage'), save = window.LiteGraph.createNode('SaveImage');
        image.pos = [300, 250]; save.pos = [800, 250];
        graph.add(image); graph.add(save);
        image.widgets.find(w => w.name === 'width').value = 72;
        save.widgets.find(w => w.name === 'filename_prefix').value = 'from_saved_flow';
        image.connect(0, save, 0);
        window.app.canvas.setDirty(true, true);
    }""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "2-graph.png"))

    workflow_menu(page, "Save")
    name_box = page.locator(".p-dialog input").first
    name_box.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "3-name-prompt.png"))
    name_box.fill("browser flow")
    name_box.press("Enter")
    listed = wait_listed(served, "browser flow.json")
    assert listed == ["browser flow.json"]
    saved = json.loads((served.root / "user" / "default" / "workflows" / "browser flow.json").read_text())
    by_type = {n["type"]: n for n in saved["nodes"]}
    assert set(by_type) == {"EmptyImage", "SaveImage"} and len(saved["links"]) == 1
    assert by_type["EmptyImage"]["widgets_values"][0] == 72
    page.wait_for_function("() => window.app.extensionManager.workflow.activeWorkflow.path"
                           " === 'workflows/browser flow.json'", timeout=10_000)

    page.locator(".workflows-tab-button").click()
    entry = page.locator(".side-bar-panel, .sidebar-content-container").first.get_by_text("browser flow.json")
    entry.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "4-sidebar.png"))

    fresh = open_page(served, console, tmp_path / "5-new-browser.png")  # new context: nothing from local storage
    assert fresh.evaluate("() => window.app.extensionManager.workflow.activeWorkflow.path") != (
        "workflows/browser flow.json")
    fresh.locator(".workflows-tab-button").click()
    fresh.get_by_text("browser flow.json").first.click()
    fresh.wait_for_function("() => window.app.extensionManager.workflow.activeWorkflow.path"
                            " === 'workflows/browser flow.json'", timeout=10_000)
    fresh.wait_for_timeout(300)
    fresh.screenshot(path=str(tmp_path / "6-reopened.png"))
    nodes = fresh.evaluate("""() => window.app.graph._nodes.map(n => [n.type, n.widgets[0].value])""")
    assert sorted(nodes) == [["EmptyImage", 72], ["SaveImage", "from_saved_flow"]]
    prompt = fresh.evaluate("async () => (await window.app.graphToPrompt()).output")
    image = next(k for k, v in prompt.items() if v["class_type"] == "EmptyImage")
    assert [v["inputs"]["images"] for v in prompt.values() if v["class_type"] == "SaveImage"] == [[image, 0]]
    assert console.unexpected() == [], console.unexpected()


def test_saved_workflow_edited_saved_again_renamed_and_deleted(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    folder = served.root / "user" / "default" / "workflows"
    page = open_page(served, console, tmp_path / "1-loaded.png")
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.NewBlankWorkflow')")
    page.evaluate("""() => { const n = window.LiteGraph.createNode('EmptyImage'); n.pos = [400, 300];
                             window.app.graph.add(n); window.app.canvas.setDirty(true, true); }""")
    workflow_menu(page, "Save As")
    name_box = page.locator(".p-dialog input").first
    name_box.fill("to edit")
    name_box.press("Enter")
    wait_listed(served, "to edit.json")
    assert [n["pos"] for n in json.loads((folder / "to edit.json").read_text())["nodes"]] == [[400, 300]]

    # drag the node by its title with the mouse, then Ctrl+S: the file is written over
    title = page.evaluate("""() => { const node = window.app.graph._nodes[0], canvas = window.app.canvas;
        const rect = canvas.canvas.getBoundingClientRect(), ds = canvas.ds;
        return [rect.left + (node.pos[0] + 40 + ds.offset[0]) * ds.scale,
                rect.top + (node.pos[1] - 15 + ds.offset[1]) * ds.scale]; }""")
    page.mouse.move(*title)
    page.mouse.down()
    page.mouse.move(title[0] + 100, title[1] + 50, steps=5)
    page.mouse.up()
    page.wait_for_function("() => window.app.extensionManager.workflow.activeWorkflow.isModified", timeout=5_000)
    page.screenshot(path=str(tmp_path / "2-moved.png"))
    with page.expect_response(lambda r: r.request.method == "POST" and "/api/userdata/workflows" in r.url) as saved:
        page.keyboard.press("Control+s")
    assert saved.value.status == 200
    page.wait_for_function("() => !window.app.extensionManager.workflow.activeWorkflow.isModified", timeout=5_000)
    [pos] = [n["pos"] for n in json.loads((folder / "to edit.json").read_text())["nodes"]]
    assert pos[0] > 480 and pos[1] > 330, pos

    workflow_menu(page, "Rename")
    rename_box = page.locator("input.p-inputtext.fixed")  # the name, edited in place
    rename_box.fill("renamed")
    with page.expect_response(lambda r: "/move/" in r.url) as moved:
        rename_box.press("Enter")
    assert moved.value.status == 200 and moved.value.json() == "workflows/renamed.json"
    assert sorted(p.name for p in folder.iterdir()) == ["renamed.json"]
    page.wait_for_function("() => window.app.extensionManager.workflow.activeWorkflow.path"
                           " === 'workflows/renamed.json'", timeout=5_000)
    page.screenshot(path=str(tmp_path / "3-renamed.png"))

    workflow_menu(page, "Delete Workflow")
    confirm = page.locator(".p-dialog").filter(has_text="Delete workflow?")
    confirm.wait_for(timeout=5_000)
    page.screenshot(path=str(tmp_path / "4-confirm.png"))
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        confirm.get_by_role("button", name="Delete", exact=True).click()
    assert deleted.value.status == 204
    assert list(folder.iterdir()) == [] and served.get("/userdata?dir=workflows") == []
    page.screenshot(path=str(tmp_path / "5-deleted.png"))
    assert console.unexpected() == [], console.unexpected()
