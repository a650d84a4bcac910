"""isolate/jobs.py, ComfyUI's comfy_execution.jobs: the functions /api/jobs is built from."""

from __future__ import annotations

import subprocess
import sys

from isolate.jobs import (
    JobStatus,
    apply_sorting,
    get_outputs_summary,
    is_previewable,
    normalize_history_item,
    normalize_queue_item,
)


def entry(status: str = "success", messages=None, outputs=None) -> dict:
    extra = {"create_time": 100, "extra_pnginfo": {"workflow": {"id": "wf-1"}}}
    return {"prompt": [3, "p1", {"1": {}}, extra, ["1"]], "outputs": outputs or {},
            "status": {"status_str": status, "completed": status == "success", "messages": messages or []}}


def test_queue_item_as_a_job() -> None:
    item = (5, "abc", {}, {"create_time": 7, "extra_pnginfo": {"workflow": {"id": "w"}}}, [])
    assert normalize_queue_item(item, JobStatus.PENDING) == {
        "id": "abc", "status": "pending", "priority": 5, "create_time": 7, "outputs_count": 0, "workflow_id": "w"}
    assert "create_time" not in normalize_queue_item((1, "x", {}, {}, []), JobStatus.IN_PROGRESS)


def test_history_item_statuses_and_times() -> None:
    msgs = [["execution_start", {"timestamp": 10}], ["execution_error", {"timestamp": 15, "node_id": "1"}]]
    failed = normalize_history_item("p1", entry("error", msgs))
    assert failed["status"] == "failed" and failed["execution_error"] == {"timestamp": 15, "node_id": "1"}
    assert (failed["execution_start_time"], failed["execution_end_time"]) == (10, 15)
    assert failed["workflow_id"] == "wf-1" and failed["priority"] == 3 and "outputs" not in failed
    cancelled = normalize_history_item("p1", entry("error", [["execution_interrupted", {"timestamp": 3}]]))
    assert cancelled["status"] == "cancelled"
    full = normalize_history_item("p1", entry(), include_outputs=True)
    assert full["status"] == "completed" and full["workflow"] == {"prompt": {"1": {}}, "extra_data": {
        "create_time": 100, "extra_pnginfo": {"workflow": {"id": "wf-1"}}}}


def test_outputs_summary_prefers_output_images() -> None:
    outputs = {"1": {"images": [{"filename": "a.png", "type": "temp"}], "text": ["hi"]},
               "2": {"images": [{"filename": "b.png", "type": "output"}], "animated": [True]},
               "3": {"gifs": [{"filename": "c.mp4", "format": "video/h264-mp4"}]}}
    count, preview = get_outputs_summary(outputs)
    assert count == 3
    assert preview == {"filename": "b.png", "type": "output", "nodeId": "2", "mediaType": "images"}
    assert get_outputs_summary({"3": outputs["3"]})[1]["mediaType"] == "video"
    assert is_previewable("meshes", {"filename": "M.GLB"}) and not is_previewable("text", {"filename": "a.txt"})


def test_sorting() -> None:
    jobs = [{"id": "a", "create_time": 2, "execution_start_time": 0, "execution_end_time": 9},
            {"id": "b", "create_time": 3}, {"id": "c", "create_time": 1, "execution_start_time": 1,
                                            "execution_end_time": 2}]
    assert [j["id"] for j in apply_sorting(jobs)] == ["b", "a", "c"]
    assert [j["id"] for j in apply_sorting(jobs, "created_at", "asc")] == ["c", "a", "b"]
    assert [j["id"] for j in apply_sorting(jobs, "execution_duration", "desc")] == ["a", "c", "b"]


def test_importable_as_comfy_execution_jobs_in_a_pack_process() -> None:
    code = ("from isolate.compat_path import install; install(); "
            "from comfy_execution.jobs import JobStatus, is_previewable, normalize_queue_item, "
            "normalize_history_item, get_outputs_summary, apply_sorting; import isolate.jobs as h; "
            "assert apply_sorting is h.apply_sorting; print(JobStatus.COMPLETED)")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                         cwd="/")
    assert out.stdout.strip() == "completed", out.stderr
