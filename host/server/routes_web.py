"""What the web frontend loads besides the API: the web root (``--front-end-root``), pack web folders
(``WEB_DIRECTORY`` -> ``/extensions/<pack>/...``), ``/extensions``, ``/i18n``, ``/workflow_templates``,
``/global_subgraphs``, and the log routes under ``/internal``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from aiohttp import web

from host.server import frontend
from host.server.safe_paths import PathRefused, resolve_user_file
from host.server.state import STATE, ServerState

_EXAMPLE_DIRS = ("example_workflows", "example", "examples", "workflow", "workflows")
_LOCALE_FILES = ("main", "nodeDefs", "commands", "settings")


def pack_web_dirs(state: ServerState) -> dict[str, Path]:
    """Each ready pack's web folder (its WEB_DIRECTORY, relative to the pack), after nodehost's own
    (``config.extra["web_extensions"]``: name -> folder)."""
    dirs = {name: Path(d) for name, d in state.config.extra.get("web_extensions", {}).items()}
    for status in state.packs:
        web_dir = next((r.pack_dir / info for r in state.runners if r.name == status.name
                        for info in [getattr(r, "web_directory", None)] if info), None)
        if web_dir is not None and web_dir.is_dir():
            dirs[status.name] = web_dir.resolve()
    return dirs


def pack_dirs(state: ServerState) -> list[Path]:
    """Every pack folder found, loaded or not: ComfyUI reads ``custom_nodes/*/locales`` and the example
    workflows of every folder there, whether its import worked (a pack whose reload failed keeps its nodes)."""
    return [s.path for s in state.packs if s.path.is_dir()]


async def extension_file(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    await state.ready.wait()
    web_dir = pack_web_dirs(state).get(request.match_info["pack"])
    if web_dir is None:  # /extensions/core/... and the like: the web root's own files
        return await frontend.static_file(request)
    rel = Path(request.match_info["path"])
    try:
        path = resolve_user_file({"web": web_dir}, "web", "" if str(rel.parent) == "." else str(rel.parent), rel.name)
    except PathRefused as exc:
        return web.Response(status=exc.status)
    return web.FileResponse(path) if path.is_file() else web.Response(status=404)


async def list_extensions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    await state.ready.wait()
    files = []
    root = state.config.extra.get("front_end_root")
    if root and (Path(root) / "extensions").is_dir():
        files += [f"/extensions/{p.relative_to(Path(root) / 'extensions').as_posix()}"
                  for p in sorted((Path(root) / "extensions").rglob("*.js"))]
    for name, web_dir in pack_web_dirs(state).items():
        files += [f"/extensions/{name}/{p.relative_to(web_dir).as_posix()}" for p in sorted(web_dir.rglob("*.js"))]
    return web.json_response(files)


async def i18n(request: web.Request) -> web.Response:
    """Every pack's ``locales/<lang>/{main,nodeDefs,commands,settings}.json``, merged per language."""
    merged: dict[str, dict[str, Any]] = {}
    await request.app[STATE].ready.wait()
    for pack in pack_dirs(request.app[STATE]):
        for lang_dir in sorted((pack / "locales").glob("*")) if (pack / "locales").is_dir() else []:
            for part in _LOCALE_FILES:
                path = lang_dir / f"{part}.json"
                try:
                    data = json.loads(path.read_text()) if path.is_file() else None
                except (OSError, ValueError):
                    data = None
                if isinstance(data, dict):
                    merged.setdefault(lang_dir.name, {}).setdefault(part, {}).update(data)
    return web.json_response(merged)


async def workflow_templates(request: web.Request) -> web.Response:
    found: dict[str, list[str]] = {}
    await request.app[STATE].ready.wait()
    for pack in pack_dirs(request.app[STATE]):
        for folder in _EXAMPLE_DIRS:
            if (pack / folder).is_dir():
                found[pack.name] = sorted(p.stem for p in (pack / folder).glob("*.json"))
                break
    return web.json_response(found)


def _subgraphs(state: ServerState) -> dict[str, dict[str, Any]]:
    entries = {}
    for pack in pack_dirs(state):
        for path in sorted((pack / "subgraphs").glob("*.json")) if (pack / "subgraphs").is_dir() else []:
            key = hashlib.sha256(f"{pack.name}/{path.name}".encode()).hexdigest()
            entries[key] = {"source": "custom_node", "name": path.stem, "info": {"node_pack": pack.name},
                            "_path": path}
    return entries


async def global_subgraphs(request: web.Request) -> web.Response:
    await request.app[STATE].ready.wait()
    return web.json_response({k: {f: v for f, v in e.items() if f != "_path"}
                              for k, e in _subgraphs(request.app[STATE]).items()})


async def global_subgraph(request: web.Request) -> web.Response:
    await request.app[STATE].ready.wait()
    entry = _subgraphs(request.app[STATE]).get(request.match_info["id"])
    if entry is None:
        return web.json_response({}, status=404)
    path = entry.pop("_path")
    return web.json_response(entry | {"data": path.read_text()})


class LogBuffer(logging.Handler):
    """The last log lines, for /internal/logs, and pushed as WS ``logs`` messages to subscribed clients."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop, size: int = 300) -> None:
        super().__init__(logging.INFO)
        self.state, self.loop = state, loop
        self.entries: deque[dict[str, str]] = deque(maxlen=size)
        self.subscribers: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        entry = {"t": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)), "m": self.format(record)}
        self.entries.append(entry)
        for sid in list(self.subscribers):
            message = {"type": "logs", "data": {"entries": [entry], "size": None}}
            self.loop.call_soon_threadsafe(self.state.sockets.send_soon, message, sid)


LOGS = web.AppKey("nodehost_logs", LogBuffer)


async def logs_lifecycle(app: web.Application) -> Any:
    buffer = LogBuffer(app[STATE], asyncio.get_running_loop())
    app[LOGS] = buffer
    logging.getLogger().addHandler(buffer)
    yield
    logging.getLogger().removeHandler(buffer)


async def get_logs(request: web.Request) -> web.Response:
    return web.json_response("\n".join(e["m"] for e in request.app[LOGS].entries))


async def get_logs_raw(request: web.Request) -> web.Response:
    return web.json_response({"entries": list(request.app[LOGS].entries), "size": {"cols": 80, "rows": 24}})


async def subscribe_logs(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return web.json_response({"error": "the body is not valid JSON"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("clientId"), str):
        return web.json_response({"error": "clientId is required"}, status=400)
    subscribers = request.app[LOGS].subscribers
    if body.get("enabled"):
        subscribers.add(body["clientId"])
    else:
        subscribers.discard(body["clientId"])
    return web.Response()


def routes() -> list[web.RouteDef]:
    return [web.get("/extensions", list_extensions), web.get("/i18n", i18n),
            web.get("/workflow_templates", workflow_templates), web.get("/global_subgraphs", global_subgraphs),
            web.get("/global_subgraphs/{id}", global_subgraph)]


def root_routes() -> list[web.RouteDef]:
    """Not duplicated under /api: the index and pack web folders (static, as ComfyUI), and /internal logs."""
    return [web.get("/", frontend.index), web.get("/extensions/{pack}/{path:.+}", extension_file),
            *frontend.package_routes(),
            web.get("/internal/logs", get_logs), web.get("/internal/logs/raw", get_logs_raw),
            web.patch("/internal/logs/subscribe", subscribe_logs)]
