"""The templates browser against ``nodehost serve`` in real Chromium: the frontend lists the installed
``comfyui-workflow-templates`` (``/templates/index.json``, thumbnails) and opening one loads its graph from
``/templates/<name>.json``, as in ComfyUI. Screenshots in the tmp folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)


def test_template_opened_from_the_templates_browser_loads_its_graph(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    frontend = pytest.importorskip("host.server.frontend")
    [default] = [d / "default.json" for d in frontend.templates_dirs() if (d / "default.json").is_file()]
    expected = sorted(n["type"] for n in json.loads(default.read_text())["nodes"])
    page = open_page(quiet_served, console, tmp_path / "1-loaded.png")
    page.locator(".templates-tab-button").click()
    page.get_by_text("Getting Started").first.click()
    card = page.locator("[data-testid=template-workflow-default]")
    card.wait_for(timeout=15_000)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid^=template-workflow-] img')]"
                           ".some(i => i.complete && i.naturalWidth > 0)", timeout=15_000)  # thumbnails load
    page.screenshot(path=str(tmp_path / "2-templates.png"))
    with page.expect_response(lambda r: r.url.endswith("/templates/default.json")) as got:
        card.click()
    assert got.value.status == 200
    page.wait_for_function("() => window.app.extensionManager.workflow.activeWorkflow.path"
                           " === 'workflows/default.json'", timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "3-opened.png"))
    assert sorted(page.evaluate("() => window.app.graph._nodes.map(n => n.type)")) == expected
    assert "KSampler" in expected
    assert console.unexpected() == [], console.unexpected()
