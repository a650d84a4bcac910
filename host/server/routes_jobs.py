"""The Jobs API (COMPAT §1.2 ``/api/jobs``, §4.12): pending, running and finished prompts as jobs.

Declared with the ``/api`` prefix, so they exist as ``/api/jobs`` and ``/api/api/jobs`` (bare ``/jobs`` does not
exist in ComfyUI). ``cancelled`` is accepted as a status (interrupted prompts), which the latest frontend asks for.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from host.server.app import STATE
from host.server.queue import QueueItem

STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")
MEDIA_KEYS = ("images", "video", "audio")
_3D = (".obj", ".fbx", ".gltf", ".glb")


def _message_time(messages: list[Any], kinds: tuple[str, ...]) -> int | None:
    for kind, data in messages:
        if kind in kinds and isinstance(data, dict):
            return data.get("timestamp")
    return None


def _workflow_id(extra: dict[str, Any]) -> str | None:
    workflow = (extra.get("extra_pnginfo") or {}).get("workflow") if isinstance(extra, dict) else None
    return workflow.get("id") if isinstance(workflow, dict) else None


def _preview(outputs: dict[str, Any]) -> dict[str, Any] | None:
    """The first image/video/audio (or 3D / video-format) item, preferring ``type == "output"``."""
    found: list[dict[str, Any]] = []
    for node_id, ui in outputs.items():
        for key, items in (ui or {}).items():
            if key == "animated" or not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                fmt = str(item.get("format", ""))
                media = key if key in MEDIA_KEYS else ("video" if fmt.startswith("video/") else
                                                       "audio" if fmt.startswith("audio/") else
                                                       "3d" if str(item.get("filename", "")).endswith(_3D) else None)
                if media:
                    found.append(item | {"nodeId": node_id, "mediaType": media})
    for item in found:
        if item.get("type") == "output":
            return item
    return found[0] if found else None


def _outputs_count(outputs: dict[str, Any]) -> int:
    return sum(len(items) for ui in outputs.values() for key, items in (ui or {}).items()
               if key != "animated" and isinstance(items, list))


def queued_job(item: QueueItem, status: str) -> dict[str, Any]:
    job = {"id": item.prompt_id, "status": status, "priority": item.number,
           "create_time": item.extra_data.get("create_time"), "outputs_count": 0,
           "workflow_id": _workflow_id(item.extra_data)}
    return {k: v for k, v in job.items() if v is not None}


def history_job(prompt_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    number, _, _, extra, _ = (entry.get("prompt") or [None, None, None, {}, None])[:5]
    messages = (entry.get("status") or {}).get("messages") or []
    error = next((data for kind, data in messages if kind == "execution_error"), None)
    interrupted = any(kind == "execution_interrupted" for kind, _ in messages)
    ok = (entry.get("status") or {}).get("status_str") == "success"
    outputs = entry.get("outputs") or {}
    job = {"id": prompt_id, "status": "completed" if ok else ("cancelled" if interrupted else "failed"),
           "priority": number, "create_time": (extra or {}).get("create_time"),
           "execution_start_time": _message_time(messages, ("execution_start",)),
           "execution_end_time": _message_time(messages, ("execution_success", "execution_error",
                                                          "execution_interrupted")),
           "execution_error": error, "outputs_count": _outputs_count(outputs), "preview_output": _preview(outputs),
           "workflow_id": _workflow_id(extra or {})}
    return {k: v for k, v in job.items() if v is not None}


def all_jobs(request: web.Request) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    state = request.app[STATE]
    jobs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    jobs += [(queued_job(i, "in_progress"), None) for i in state.queue.running.values()]
    jobs += [(queued_job(i, "pending"), None) for i in state.queue.pending()]
    for prompt_id, entry in state.history.page().items():
        jobs.append((history_job(prompt_id, entry), entry))
    return jobs


def _error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def get_jobs(request: web.Request) -> web.Response:
    query = request.query
    wanted = [s.strip() for s in query.get("status", "").split(",") if s.strip()]
    if any(s not in STATUSES for s in wanted):
        return _error(f"status must be a comma-separated list of {', '.join(STATUSES)}")
    sort_by = query.get("sort_by", "created_at")
    sort_order = query.get("sort_order", "desc")
    if sort_by not in ("created_at", "execution_duration") or sort_order not in ("asc", "desc"):
        return _error("sort_by must be created_at or execution_duration, sort_order asc or desc")
    try:
        limit = int(query["limit"]) if "limit" in query else None
        offset = max(0, int(query.get("offset", "0")))
    except ValueError:
        return _error("limit and offset must be integers")
    if limit is not None and limit <= 0:
        return _error("limit must be a positive integer")
    jobs = [job for job, _ in all_jobs(request) if (not wanted or job["status"] in wanted)
            and ("workflow_id" not in query or job.get("workflow_id") == query["workflow_id"])]

    def key(job: dict[str, Any]) -> float:
        if sort_by == "created_at":
            return job.get("create_time") or 0
        start, end = job.get("execution_start_time"), job.get("execution_end_time")
        return (end - start) if start is not None and end is not None else 0

    jobs.sort(key=key, reverse=sort_order == "desc")
    page = jobs[offset:offset + limit] if limit is not None else jobs[offset:]
    return web.json_response({"jobs": page, "pagination": {
        "offset": offset, "limit": limit, "total": len(jobs), "has_more": offset + len(page) < len(jobs)}})


async def get_job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    for job, entry in all_jobs(request):
        if job["id"] == job_id:
            if entry is not None:
                prompt = entry.get("prompt") or [None, None, {}, {}, None]
                job = job | {"outputs": entry.get("outputs") or {}, "execution_status": entry.get("status"),
                             "workflow": {"prompt": prompt[2], "extra_data": prompt[3]}}
            return web.json_response(job)
    return web.json_response({"error": "Job not found"}, status=404)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/jobs", get_jobs), web.get("/api/jobs/{job_id}", get_job)]
