"""``nodehost serve --watch-packs``: an edited node pack is reloaded under the running server.

ComfyUI must be restarted to pick up an edited pack; here every pack lives in its own process, so only that
process is. When a watched pack's files have been quiet for a second after a change: no new prompt starts (the
queue keeps them, in order), the running prompt finishes, the pack's environment is rebuilt when its
requirements or install.py changed, its child is restarted and its node definitions bound again
(host/extensions/watch.py), the executor's cached outputs are dropped, prompts start
again, and every WebSocket client gets ``nodehost.node_defs_changed`` (the ComfyUI frontend has no message of
its own for this; the listener in ``web/`` refreshes the page's definitions from /object_info on it).

``GET /nodehost/packs`` reports each pack's state, including a reload that failed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from host.server.state import STATE, ServerState

log = logging.getLogger("nodehost.server")

#: the WebSocket message sent to every client after a pack reloaded (or failed to)
EVENT = "nodehost.node_defs_changed"
#: nodehost's own frontend extension (served as /extensions/nodehost/...): refreshes definitions on EVENT
WEB_DIR = Path(__file__).resolve().parent / "web"


@dataclass
class WatchState:
    """The watch: how often each pack was reloaded, and the last reload of each."""

    packs: list[str] = field(default_factory=list)
    reloads: dict[str, int] = field(default_factory=dict)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: seconds a pack must be quiet after a change before it is reloaded, and between two looks
    quiet: float = 1.0
    interval: float = 0.5


WATCH = web.AppKey("nodehost_pack_watch", WatchState)


def install(app: web.Application, quiet: float = 1.0, interval: float = 0.5) -> None:
    """Watch the packs once they are loaded; stop before they are closed (on the app built by build_app)."""
    app[WATCH] = WatchState(quiet=quiet, interval=interval)
    extra = app[STATE].config.extra
    extra["watch_packs"] = True  # packs that fail to import at start keep their runner (watched too)
    extra.setdefault("web_extensions", {})["nodehost"] = str(WEB_DIR)
    app.cleanup_ctx.append(_lifecycle)
    app.add_routes([web.get("/nodehost/packs", pack_status), web.get("/api/nodehost/packs", pack_status)])


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.ensure_future(watch(app[STATE], app[WATCH]))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def watch(state: ServerState, record: WatchState) -> None:
    from host.extensions.watch import PackWatcher

    await state.ready.wait()
    runners = {r.name: r for r in state.runners}
    runners |= {s.name: s.runner for s in state.packs if getattr(s, "runner", None) is not None}  # failed imports
    if not runners:
        log.info("--watch-packs: no loaded pack to watch")
        return

    async def changed(name: str, files: list[str]) -> None:
        await reload(state, record, runners[name], files)

    watcher = PackWatcher({n: r.pack_dir for n, r in runners.items()}, changed, record.interval, record.quiet)
    await watcher.start()  # the baseline first: a pack is "watched" (its status says so) once edits to it count
    record.packs = sorted(runners)
    log.info("watching %d node pack(s) for changes: %s", len(runners), ", ".join(record.packs))
    await watcher.run(started=True)


async def reload(state: ServerState, record: WatchState, runner: Any, files: list[str]) -> None:
    """Hold the queue, let the running prompt finish, reload the pack on the executor's thread, go on."""
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    log.info("pack %s changed (%s): reloading it once no prompt runs", runner.name, shown)
    started = time.monotonic()
    state.dispatching.clear()
    try:
        while state.pool is not None and any(w.running is not None for w in state.pool.workers):
            await asyncio.sleep(0.05)
        assert state.worker is not None
        result = await asyncio.wrap_future(state.worker.submit(_reload_here(state, runner, files)))
        if result.ok:
            await revalidate_queued(state, runner.name, set(result.nodes) | set(result.removed))
    finally:
        state.dispatching.set()
    _update_status(state, result)
    if result.ok and runner not in state.runners:  # a pack that failed to import at start loads now
        _connect(state, runner)
    record.reloads[runner.name] = record.reloads.get(runner.name, 0) + 1
    record.last[runner.name] = {"at": time.time(), "seconds": round(time.monotonic() - started, 3),
                                "files": files, "ok": result.ok, "error": result.error, "added": result.added,
                                "removed": result.removed, "changed": result.changed, "notes": result.notes,
                                "rebuilt": result.env is not None}
    if result.ok:
        log.info("pack %s reloaded: %d nodes (added %s, removed %s, changed %s)", runner.name, len(result.nodes),
                 result.added or "none", result.removed or "none", result.changed or "none")
    elif result.nodes:
        log.error("pack %s failed to reload: %s (its %d nodes from before the edit are kept, and cannot run until "
                  "it imports again)", runner.name, result.error, len(result.nodes))
    else:
        log.error("pack %s still fails to import: %s", runner.name, result.error)
    for note in result.notes:
        log.warning("pack %s: %s", runner.name, note)
    state.sockets.send_soon({"type": EVENT, "data": {
        "pack": runner.name, "ok": result.ok, "error": result.error or None, "added": result.added,
        "removed": result.removed, "changed": result.changed, "nodes": result.nodes}}, None)


async def _reload_here(state: ServerState, runner: Any, files: list[str]) -> Any:
    """On the executor's thread (the child belongs to its loop), between prompts: reload, then forget every
    cached output (the pack's, and those computed from them) and the pack's node instances."""
    from host.extensions.watch import reload_pack

    result = await reload_pack(state.registry, runner, files, env_build(state.config))
    executor = state.executor
    if executor is not None:
        executor.cache.clear()
        executor.subcaches.clear()
        for key in [k for k, r in executor.instances.items() if r is runner]:
            del executor.instances[key]
    return result


def env_build(config: Any) -> Any:
    """How start-up built the pack environments (host/server/app.py start_packs): a reload rebuilds one alike."""
    from host.cli_ext import default_envs_dir
    from host.extensions.watch import EnvBuild
    from isolate.venv import VenvBuilder

    return EnvBuild(VenvBuilder(config.envs_dir or default_envs_dir()), list(config.find_links), config.offline)


async def revalidate_queued(state: ServerState, pack: str, names: set[str]) -> None:
    """Queued prompts using the reloaded pack's nodes are validated again against their new definitions (as
    after a restart); one that no longer validates leaves the queue recorded as failed, its client told."""
    from host.executor.errors import ValidationFailed
    from host.executor.validation import validate_prompt
    from host.server.dispatch import finish

    assert state.validator is not None
    for item in state.queue.pending():
        if not any(isinstance(n, dict) and n.get("class_type") in names for n in item.prompt.values()):
            continue
        try:
            validated = await asyncio.wrap_future(state.validator.submit(
                validate_prompt(item.prompt, state.registry, item.outputs)))
        except ValidationFailed as failed:
            state.queue.delete({item.prompt_id})
            node_id, node_type = blamed_node(item.prompt, failed, state.registry)
            error = {"prompt_id": item.prompt_id, "node_id": node_id, "node_type": node_type, "executed": [],
                     "exception_message": f"pack {pack!r} was reloaded and this queued prompt no longer "
                                          f"validates: {failed.error.line()}",
                     "exception_type": "ValidationFailed", "traceback": [], "current_inputs": {},
                     "current_outputs": [], "timestamp": int(time.time() * 1000)}
            client = item.extra_data.get("client_id")
            state.sockets.client_of[item.prompt_id] = client
            state.sockets.send_soon({"type": "execution_error", "data": error}, client)
            finish(state, item, {}, "error", {}, [["execution_error", error]])
            continue
        item.validated, item.outputs = validated, validated.outputs


def blamed_node(prompt: dict[str, Any], failed: Any, registry: Any) -> tuple[str | None, str | None]:
    """The node a failed validation is about: one whose class is gone, else the first with errors."""
    for nid, node in prompt.items():
        if isinstance(node, dict) and node.get("class_type") not in registry.nodes:
            return nid, node.get("class_type")
    for nid, errors in failed.node_errors.items():
        return nid, errors.class_type
    return None, None


def _connect(state: ServerState, runner: Any) -> None:
    """A runner joins the loaded ones (its routes, web folder, closing at shutdown), its pack's messages sent to
    the WebSocket clients as start_packs does for the others."""
    loop = asyncio.get_running_loop()
    runner.on_message = lambda event, data, sid: loop.call_soon_threadsafe(
        state.sockets.send_soon, {"type": event, "data": data}, sid)
    runner.on_text = lambda text, node_id, sid: loop.call_soon_threadsafe(
        state.sockets.send_soon, {"type": "__text__", "text": text, "node_id": node_id}, sid)
    state.runners.append(runner)


def _update_status(state: ServerState, result: Any) -> None:
    status = next((s for s in state.packs if s.name == result.pack), None)
    if status is None:
        return
    status.nodes = list(result.nodes)
    if result.env is not None:
        status.env = result.env
    if result.ok:
        status.state, status.reason, status.runner = "ready", "", None
    else:
        status.state = "failed"
        kept = " (the definitions from before the edit are kept)" if result.nodes else ""
        status.reason = f"reload failed: {result.error}{kept}"


async def pack_status(request: web.Request) -> web.Response:
    """Every pack as the server sees it now: ``[{name, state, reason, nodes, notes, reloads, last_reload}]``."""
    state = request.app[STATE]
    record = request.app[WATCH]
    await state.ready.wait()
    return web.json_response([{"name": s.name, "state": s.state, "reason": s.reason, "nodes": list(s.nodes),
                               "notes": list(s.notes), "watched": s.name in record.packs,
                               "reloads": record.reloads.get(s.name, 0), "last_reload": record.last.get(s.name)}
                              for s in state.packs])


__all__ = ["EVENT", "WATCH", "WatchState", "install", "pack_status"]
