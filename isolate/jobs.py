"""Prompts as jobs (ComfyUI's ``comfy_execution.jobs``): the one implementation behind ``/api/jobs`` and the
module of that name that tools and packs import, in the host and in pack children alike.

Plain functions over ComfyUI's shapes: a queue item is ``(number, prompt_id, prompt, extra_data,
outputs_to_execute)`` (or an object with those attributes), a history entry is ``/history``'s value for one
prompt.
"""

from __future__ import annotations

from typing import Any


class JobStatus:
    """The status names a job can have (``cancelled``: an interrupted prompt)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ALL = (PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED)


PREVIEWABLE_MEDIA_TYPES = frozenset({"images", "video", "audio"})
THREE_D_EXTENSIONS = frozenset({".obj", ".fbx", ".gltf", ".glb"})
_END_EVENTS = ("execution_success", "execution_error", "execution_interrupted")


def _pruned(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if v is not None}


def _workflow_id(extra_data: Any) -> str | None:
    pnginfo = extra_data.get("extra_pnginfo") if isinstance(extra_data, dict) else None
    workflow = pnginfo.get("workflow") if isinstance(pnginfo, dict) else None
    return workflow.get("id") if isinstance(workflow, dict) else None


def is_previewable(media_type: str, item: dict[str, Any]) -> bool:
    """An output item the queue panel can show: images/video/audio, a video or audio format, or a 3D file."""
    if media_type in PREVIEWABLE_MEDIA_TYPES:
        return True
    fmt = str(item.get("format") or "")
    if fmt.startswith(("video/", "audio/")):
        return True
    return str(item.get("filename") or "").lower().endswith(tuple(THREE_D_EXTENSIONS))


def preview_media_type(media_type: str, item: dict[str, Any]) -> str:
    """The ``mediaType`` of a previewable item: its output key, else what its format or file name says."""
    if media_type in PREVIEWABLE_MEDIA_TYPES:
        return media_type
    fmt = str(item.get("format") or "")
    return "video" if fmt.startswith("video/") else "audio" if fmt.startswith("audio/") else "3d"


def get_outputs_summary(outputs: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """(number of output items, the preview item): the first previewable item, one of type ``output`` first."""
    count = 0
    preview: dict[str, Any] | None = None
    fallback: dict[str, Any] | None = None
    for node_id, ui in (outputs or {}).items():
        if not isinstance(ui, dict):
            continue
        for media_type, items in ui.items():
            if media_type == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                count += 1
                if preview is None and is_previewable(media_type, item):
                    found = item | {"nodeId": node_id, "mediaType": preview_media_type(media_type, item)}
                    if item.get("type") == "output":
                        preview = found
                    elif fallback is None:
                        fallback = found
    return count, preview or fallback


def normalize_queue_item(item: Any, status: str) -> dict[str, Any]:
    """A queued or running prompt as a job."""
    if isinstance(item, (list, tuple)):
        number, prompt_id, _, extra_data = item[:4]
    else:
        number, prompt_id, extra_data = item.number, item.prompt_id, item.extra_data
    extra_data = extra_data if isinstance(extra_data, dict) else {}
    return _pruned({"id": prompt_id, "status": status, "priority": number,
                    "create_time": extra_data.get("create_time"), "outputs_count": 0,
                    "workflow_id": _workflow_id(extra_data)})


def _timeline(messages: list[Any]) -> tuple[Any, Any, Any, bool]:
    """(start time, end time, error message data, interrupted) from a history entry's status messages."""
    start = end = error = None
    interrupted = False
    for entry in messages:
        if not isinstance(entry, (list, tuple)) or len(entry) < 2 or not isinstance(entry[1], dict):
            continue
        kind, data = entry[0], entry[1]
        if kind == "execution_start" and start is None:
            start = data.get("timestamp")
        elif kind in _END_EVENTS and end is None:
            end = data.get("timestamp")
        if kind == "execution_error" and error is None:
            error = data
        interrupted = interrupted or kind == "execution_interrupted"
    return start, end, error, interrupted


def normalize_history_item(prompt_id: str, history_item: dict[str, Any],
                           include_outputs: bool = False) -> dict[str, Any]:
    """A finished prompt as a job; with ``include_outputs``, its outputs, status and workflow too."""
    number, _, prompt, extra_data = (list(history_item.get("prompt") or []) + [None, None, {}, {}])[:4]
    extra_data = extra_data if isinstance(extra_data, dict) else {}
    status_info = history_item.get("status") or {}
    start, end, error, interrupted = _timeline(status_info.get("messages") or [])
    ok = status_info.get("status_str") == "success"
    outputs = history_item.get("outputs") or {}
    count, preview = get_outputs_summary(outputs)
    job = _pruned({"id": prompt_id,
                   "status": JobStatus.COMPLETED if ok else JobStatus.CANCELLED if interrupted else JobStatus.FAILED,
                   "priority": number, "create_time": extra_data.get("create_time"),
                   "execution_start_time": start, "execution_end_time": end, "execution_error": error,
                   "outputs_count": count, "preview_output": preview, "workflow_id": _workflow_id(extra_data)})
    if include_outputs:
        job |= {"outputs": outputs, "execution_status": status_info or None,
                "workflow": {"prompt": prompt, "extra_data": extra_data}}
    return job


def apply_sorting(jobs: list[dict[str, Any]], sort_by: str = "created_at",
                  sort_order: str = "desc") -> list[dict[str, Any]]:
    """Jobs sorted by creation time or by execution duration (0 when unknown), newest or longest first."""
    def key(job: dict[str, Any]) -> float:
        if sort_by == "execution_duration":
            start, end = job.get("execution_start_time"), job.get("execution_end_time")
            return (end - start) if start is not None and end is not None else 0
        return job.get("create_time") or 0

    return sorted(jobs, key=key, reverse=sort_order == "desc")
