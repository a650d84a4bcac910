"""The frontend's job views against ``nodehost serve`` in real Chromium: a prompt queued with Run is listed in the
job queue panel and its image in the assets sidebar; a node failing at run time opens the frontend's execution
error dialog, whose report carries the exception, its stack and the server's system stats and logs, and the job
is listed as failed. Screenshots in the tmp folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser.canvas_steps import build, run_from_page, wait_history

pytestmark = pytest.mark.timeout(120)


def open_job_queue(page: Any) -> None:
    page.get_by_role("button", name="Expand job queue").first.click()
    page.get_by_text("Job Queue", exact=True).wait_for(timeout=10_000)


def test_queued_prompt_is_listed_in_the_job_queue_and_the_assets_sidebar(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    page = open_page(served, console, tmp_path / "1-loaded.png")
    _, save = build(page, [("EmptyImage", [300, 250], {"width": 32, "height": 32}),
                           ("SaveImage", [800, 250], {"filename_prefix": "listed"})], [(0, 0, 1, 0)])
    run_from_page(page)
    [entry] = wait_history(served).values()
    [image] = entry["outputs"][str(save)]["images"]
    assert image["filename"] == "listed_00001_.png"
    page.wait_for_function("(id) => { const n = window.app.graph.getNodeById(id); return n.imgs && n.imgs.length }",
                           arg=save, timeout=15_000)

    open_job_queue(page)
    page.get_by_text("listed_00001_.png").wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "2-job-queue.png"))
    page.get_by_text("Completed", exact=True).click()
    page.get_by_text("listed_00001_.png").wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "3-completed.png"))
    page.keyboard.press("Escape")

    page.locator(".assets-tab-button").click()
    card = page.get_by_text("listed_00001_", exact=True)
    card.wait_for(timeout=10_000)
    page.screenshot(path=str(tmp_path / "4-assets.png"))
    assert console.unexpected() == [], console.unexpected()


def test_node_failing_at_run_time_shows_the_execution_error_dialog_and_a_failed_job(
        open_page: Any, console: Any, quiet_served: Any, tmp_path: Path) -> None:
    served = quiet_served
    inputs = served.root / "input"
    inputs.mkdir()
    (inputs / "broken.png").write_bytes(b"not a picture")  # exists, so it passes validation; fails to open
    page = open_page(served, console, tmp_path / "1-loaded.png")
    load, _ = build(page, [("LoadImage", [300, 250], {"image": "broken.png"}), ("SaveImage", [800, 250], {})],
                    [(0, 0, 1, 0)])
    with page.expect_response(lambda r: r.url.endswith("/internal/logs"), timeout=20_000) as logs:
        run_from_page(page)  # the dialog reads the server's log as it opens
        [entry] = wait_history(served).values()
    assert entry["status"]["status_str"] == "error"
    assert logs.value.status == 200
    dialog = page.locator(".p-dialog").filter(has_text="cannot identify image file")
    dialog.wait_for(timeout=15_000)
    assert "LoadImage" in dialog.inner_text()
    page.screenshot(path=str(tmp_path / "2-error-dialog.png"))

    dialog.get_by_role("button", name="Show Report").click()
    dialog.get_by_text("ComfyUI Error Report").wait_for(timeout=10_000)
    report = dialog.inner_text()
    stats = served.get("/system_stats")
    assert f"**Node ID:** {load}" in report and "**Node Type:** LoadImage" in report
    assert "UnidentifiedImageError" in report and "## Stack Trace" in report
    assert stats["system"]["comfyui_version"] in report and stats["system"]["pytorch_version"] in report
    assert "GET /api/system_stats" in report  # the server's own log lines, from /internal/logs
    page.screenshot(path=str(tmp_path / "3-report.png"))
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden", timeout=5_000)

    open_job_queue(page)
    page.get_by_text("Failed", exact=True).first.click()  # the filter
    page.wait_for_timeout(500)
    assert page.get_by_text("Failed", exact=True).count() >= 3  # the filter, the job's title and its state
    page.screenshot(path=str(tmp_path / "4-failed-job.png"))
    assert console.unexpected() == [], console.unexpected()
