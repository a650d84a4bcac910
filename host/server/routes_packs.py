"""Routes a pack registered on ``PromptServer.instance.routes`` (recorded in its child): matched here, served
there. Mounted last, so they never shadow nodehost's own routes; reachable bare and under ``/api``, as ComfyUI
duplicates pack routes too."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import DynamicResource

from host.server import frontend
from host.server.state import STATE
from isolate.protocol import HttpRequest

_SKIP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def find(runners: list[Any], method: str, path: str) -> tuple[Any, str] | None:
    for candidate in (path, path[4:] if path.startswith("/api/") else None):
        if candidate is None:
            continue
        for runner in runners:
            for route in getattr(runner, "routes", []):
                if route["method"] in (method, "*") and DynamicResource(route["path"])._match(candidate) is not None:
                    return runner, route["path"]
    return None


async def forward(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    await state.ready.wait()
    path = request.path
    found = find(state.runners, request.method, path)
    if found is None:  # ComfyUI's last route: the web root's files
        return await frontend.static_file(request)
    runner, route = found
    sub_path = path[4:] if path.startswith("/api/") and DynamicResource(route)._match(path) is None else path
    body = await request.read()
    try:
        response = await runner.http(HttpRequest(
            request.method, sub_path, route, request.query_string,
            {k: v for k, v in request.headers.items() if k.lower() not in _SKIP_HEADERS},
            base64.b64encode(body).decode()))
    except Exception as exc:  # the pack's handler failed or its child died: a clear 502, never our 500
        return web.json_response({"error": f"pack {runner.name!r}: {exc}"}, status=502)
    return web.Response(status=response.status, headers=response.headers, body=base64.b64decode(response.body))


def routes() -> list[web.RouteDef]:
    return [web.route("*", "/{tail:.*}", forward)]
