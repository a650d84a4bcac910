"""/system_stats (real figures from the model manager, read off the loop) and /free (unload_models,
free_memory: applied by the queue worker between prompts)."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from typing import Any

from aiohttp import web

from host.models.manager import ModelManager
from host.runtime import memory_bytes
from host.server.redact import redact_argv
from host.server.routes_prompt import BadRequest, error_400, read_json
from host.server.state import MODELS, STATE

NODEHOST_VERSION = "0.1.0"


def collect_stats(models: ModelManager) -> dict[str, Any]:
    """Runs in a thread: torch may still be loading on the executor's thread. The devices are the model
    manager's (the compute device first, with its real free memory)."""
    import torch

    total, free = memory_bytes()
    devices = models.stats()
    return {"system": {"os": os.name if os.name != "posix" else sys.platform, "ram_total": total, "ram_free": free,
                       "comfyui_version": f"nodehost-{NODEHOST_VERSION}", "required_frontend_version": None,
                       "installed_templates_version": None, "required_templates_version": None,
                       "python_version": sys.version, "pytorch_version": torch.__version__,
                       "embedded_python": False, "argv": redact_argv(sys.argv), "platform": platform.platform()},
            "devices": devices}


async def get_system_stats(request: web.Request) -> web.Response:
    stats = await asyncio.to_thread(collect_stats, request.app[MODELS])
    store = request.app[STATE].store
    stats["system"]["nodehost_store"] = store.health() if store is not None else None  # issue 15 item 3
    return web.json_response(stats)


async def post_free(request: web.Request) -> web.Response:
    """``{"unload_models", "free_memory"}``: applied by the worker after the current prompt."""
    try:
        body = await read_json(request) or {}
    except BadRequest as exc:
        return error_400(str(exc))
    if not isinstance(body, dict):
        return error_400("the body must be a JSON object")
    state = request.app[STATE]
    state.free_requested |= {k for k in ("unload_models", "free_memory") if body.get(k)}
    if state.queue.remaining() == 0:
        state.apply_free()
    return web.Response()


def routes() -> list[web.RouteDef]:
    return [web.get("/system_stats", get_system_stats), web.post("/free", post_free)]
