"""The aiohttp application: state in AppKeys, the executor on its own thread, a queue worker task, and every
route registered twice (bare and under ``/api``), as ComfyUI does."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from host.executor.worker import ExecutorThread
from host.models.manager import ModelManager
from host.registry import Registry
from host.server.history import History
from host.server.queue import PromptQueue, QueueItem
from host.server.state import MODELS, STATE, ServerConfig, ServerState, now_ms
from host.server.store import Store
from host.server.workers import LocalWorkers, Workers
from host.server.ws import WebSockets

log = logging.getLogger("nodehost.server")


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start the executor thread, the validation thread, the publisher and the queue worker; stop them in
    reverse order."""
    state = app[STATE]
    cfg = state.config
    state.sockets.start()
    state.worker = ExecutorThread().start()
    state.validator = ExecutorThread(name="nodehost-validate").start()
    if state.pool is None:
        state.pool = LocalWorkers()
    if cfg.database is not None:
        state.store = Store(cfg.database)
    background = asyncio.ensure_future(start_in_background(state))
    stopping = threading.Event()
    # torch & co. load on the executor's thread after the server is ready
    warm = state.worker.submit(warm_up(stopping.is_set))
    yield
    stopping.set()  # a stop soon after start waits for one import, not the whole warm-up
    await asyncio.wrap_future(warm)  # never leave it pending on a stopped loop
    if not background.done():
        background.cancel()
    await asyncio.gather(background, return_exceptions=True)
    # no prompt starts while the running ones are let end: the queued ones stay queued (in the store), for the
    # server started next (else a stopping server went on through its queue, and killed what it had not finished)
    state.dispatching.clear()
    await state.pool.stop()  # interrupted, let end (the in-process one on its own thread)
    if state.task is not None:
        state.task.cancel()
        await asyncio.gather(state.task, return_exceptions=True)
    if state.store is not None:
        state.store.close()
    for runner in state.runners:
        await asyncio.wrap_future(state.worker.submit(runner.close()))
    if state.shm is not None:
        state.shm.close()
    state.validator.stop()
    state.worker.stop()
    await state.sockets.stop()


async def start_in_background(state: ServerState) -> None:
    """After the server accepts connections: node packs, then queue recovery, then the queue worker."""
    from host.server.recovery import recover, restore_history

    try:
        try:
            waiting = restore_history(state) if state.store is not None else []
        finally:
            state.history_ready.set()
        try:
            await state.pool.start(state)  # the in-process executor at once; Ray workers take seconds
        except Exception:
            log.exception("the workers did not start: prompts are accepted and queued, but none runs")
            raise
        state.shm = await start_packs(state)
        await recover(state, waiting)
    finally:
        if not state.registry.frozen:
            state.registry.freeze()
        state.ready.set()
    from host.server.dispatch import run_queue

    state.task = asyncio.ensure_future(run_queue(state))
    if state.shm is not None:  # a warm slab ahead of the first tensor sent to a pack (else that one makes it)
        await asyncio.to_thread(state.shm.reserve)


async def start_packs(state: ServerState) -> Any:
    """Load the node packs on the executor's loop (their children belong to it), then freeze the registry.
    With cached node definitions no child starts now: each starts on its first call."""
    cfg = state.config
    shm = None
    if cfg.extensions_dir is not None and not state.registry.frozen:
        from host.cli_ext import default_envs_dir, sandbox_config
        from host.extensions.loader import load_extensions
        from host.extensions.model_paths import custom_node_dirs
        from host.extensions.packs import NodeDefCache
        from isolate.shm import ShmHost, cleanup_stale
        from isolate.venv import VenvBuilder

        cleanup_stale()
        sandboxed = bool(cfg.extra.get("sandbox"))
        shm = ShmHost(private=sandboxed)  # a private folder: the only part of /dev/shm a sandbox sees
        dirs = [cfg.extensions_dir, *(d for c in cfg.extra_model_paths for d in custom_node_dirs(c))]
        envs = cfg.envs_dir or default_envs_dir()
        folders = {"output": str(cfg.output_dir), "temp": str(cfg.temp_dir), "input": str(cfg.input_dir),
                   "user": str(cfg.user_dir), "models_dir": str(cfg.models_dir)}
        assert state.worker is not None
        state.runners, state.packs = await asyncio.wrap_future(state.worker.submit(load_extensions(
            state.registry, [d for d in dirs if d.is_dir()], VenvBuilder(envs), find_links=cfg.find_links,
            offline=cfg.offline, shm=shm, cache=NodeDefCache(envs.parent / "nodedefs"), folders=folders,
            prewarm=bool(cfg.extra.get("prewarm_packs")), sandbox=sandbox_config(sandboxed, envs, shm, folders),
            keep_failed=bool(cfg.extra.get("watch_packs")))))
        for status in state.packs:
            if status.state == "failed":
                log.error("node pack %s failed: %s", status.name, status.reason)
        loop = asyncio.get_running_loop()
        for runner in state.runners:  # a pack's PromptServer.instance.send_sync -> the WebSocket clients
            runner.on_message = lambda event, data, sid: loop.call_soon_threadsafe(
                state.sockets.send_soon, {"type": event, "data": data}, sid)
            runner.on_text = lambda text, node_id, sid: loop.call_soon_threadsafe(
                state.sockets.send_soon, {"type": "__text__", "text": text, "node_id": node_id}, sid)
    if not state.registry.frozen:
        state.registry.freeze()
    return shm


async def warm_up(stopping: Callable[[], bool] = lambda: False) -> None:
    """Import what node bodies need (torch, numpy, PIL, the model code and transformers: a few seconds) in the
    background, so the first prompt does not pay for it and the API stays responsive then. Start-up itself never
    waits for it; a server stopping (``stopping()`` true) ends it at the next module."""
    import importlib

    from host.models.manager import import_model_code

    for name in ("numpy", "torch", "PIL.Image", "PIL.PngImagePlugin"):
        if stopping():
            return
        try:
            importlib.import_module(name)
        except ImportError:
            log.warning("warm-up: cannot import %s", name)
        await asyncio.sleep(0)
    try:
        import_model_code(stopping)
    except ImportError as exc:
        log.warning("warm-up: cannot import the model code: %s", exc)


async def close_sockets(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for open handlers: an open WebSocket would hold the stop for seconds."""
    for ws in list(app[STATE].sockets.sockets.values()):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def default_models(config: ServerConfig) -> ModelManager:
    """A ModelManager over the config's model folders (``--cpu`` from ``config.extra``); probes nothing yet."""
    from host.folders import ModelFolders
    from host.models.devices import DeviceConfig

    return ModelManager(DeviceConfig(cpu=bool(config.extra.get("cpu"))), ModelFolders.from_config(config))


def build_app(registry: Registry, config: ServerConfig | None = None,
              extra_routes: list[web.RouteDef] | None = None,
              middlewares: list[Any] | None = None, models: ModelManager | None = None,
              workers: Workers | None = None) -> web.Application:
    """The app: every route group's ``routes()`` (plus ``extra_routes``), each also under ``/api``. ``models``
    is the host's ModelManager (default: one over the config's model folders); ``workers`` what runs prompts
    (default: the in-process executor, host.server.workers.LocalWorkers)."""
    from host.server import (
        routes_files,
        routes_jobs,
        routes_metrics,
        routes_previews,
        routes_prompt,
        routes_system,
        routes_user,
        routes_web,
        users,
    )
    from host.server.middleware import guards

    config = config or ServerConfig()
    from host.server import limits

    max_body = int(config.max_upload_size_mb * 1024 * 1024)
    chain = (limits.middlewares(max_body) + guards(config.auth_token, config.enable_cors_header, config.listen)
             + list(middlewares or []))
    app = web.Application(client_max_size=max_body, middlewares=chain)
    app[STATE] = ServerState(config, registry, PromptQueue(), History(config.max_history), WebSockets())
    manager = models if models is not None else default_models(config)
    app[MODELS] = app[STATE].models = manager
    app[STATE].pool = workers
    from host.server.metrics import Metrics

    app[STATE].metrics = Metrics()
    routes = (routes_prompt.routes() + routes_jobs.routes() + routes_system.routes() + routes_user.routes()
              + routes_files.routes() + routes_previews.routes() + routes_web.routes() + routes_metrics.routes()
              + list(extra_routes or []))
    users.install(app, config)
    routes_files.setup(app)
    app.add_routes(routes_files.internal_routes() + routes_web.root_routes())  # no /api twin, as ComfyUI
    app.cleanup_ctx.append(routes_web.logs_lifecycle)
    from host.server import redact

    app.cleanup_ctx.append(redact.lifecycle(config.auth_token))
    from host.server import routes_packs

    app.add_routes(routes_packs.routes())  # last: pack routes never shadow ours
    app.add_routes(routes)
    app.add_routes([web.route(r.method, "/api" + r.path, r.handler) for r in routes])  # type: ignore[attr-defined]
    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_sockets)
    return app


__all__ = ["MODELS", "STATE", "QueueItem", "ServerConfig", "ServerState", "build_app", "now_ms"]
