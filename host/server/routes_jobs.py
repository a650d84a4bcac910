"""The Jobs API (COMPAT §1.2 ``/api/jobs``, §4.12): pending, running and finished prompts as jobs.

Declared with the ``/api`` prefix, so they exist as ``/api/jobs`` and ``/api/api/jobs`` (bare ``/jobs`` does not
exist in ComfyUI). ``cancelled`` is accepted as a status (interrupted prompts), which the latest frontend asks for.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from host.server.jsontext import dumps
from host.server.state import STATE
from isolate.jobs import JobStatus, apply_sorting, normalize_history_item, normalize_queue_item

STATUSES = JobStatus.ALL


def all_jobs(request: web.Request) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    state = request.app[STATE]
    jobs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    jobs += [(normalize_queue_item(i, JobStatus.IN_PROGRESS), None) for i in state.queue.running.values()]
    jobs += [(normalize_queue_item(i, JobStatus.PENDING), None) for i in state.queue.pending()]
    for prompt_id, entry in state.history.page().items():
        jobs.append((normalize_history_item(prompt_id, entry), entry))
    return jobs


def _error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def get_jobs(request: web.Request) -> web.Response:
    await request.app[STATE].ready.wait()  # queue and history back from the store first
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
    jobs = apply_sorting([job for job, _ in all_jobs(request) if (not wanted or job["status"] in wanted)
                          and ("workflow_id" not in query or job.get("workflow_id") == query["workflow_id"])],
                         sort_by, sort_order)
    page = jobs[offset:offset + limit] if limit is not None else jobs[offset:]
    return web.json_response({"jobs": page, "pagination": {
        "offset": offset, "limit": limit, "total": len(jobs), "has_more": offset + len(page) < len(jobs)}}, dumps=dumps)


async def get_job(request: web.Request) -> web.Response:
    await request.app[STATE].ready.wait()
    job_id = request.match_info["job_id"]
    for job, entry in all_jobs(request):
        if job["id"] == job_id:
            return web.json_response(job if entry is None else normalize_history_item(job_id, entry, True),
                                     dumps=dumps)
    return web.json_response({"error": "Job not found"}, status=404)


def routes() -> list[web.RouteDef]:
    return [web.get("/api/jobs", get_jobs), web.get("/api/jobs/{job_id}", get_job)]
