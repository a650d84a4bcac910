"""The server's shared types: its configuration, its state and the AppKey the routes find it under.

Routes and the app both import this module; it imports neither (no import circle)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from host.executor.executor import Executor
from host.executor.worker import ExecutorThread
from host.models.manager import ModelManager
from host.registry import Registry
from host.server.history import History
from host.server.memory import Collector
from host.server.queue import PromptQueue
from host.server.store import Store
from host.server.ws import WebSockets


@dataclass
class ServerConfig:
    """Settings of ``nodehost serve`` (ComfyUI's flag names where they exist)."""

    listen: str = "127.0.0.1"
    port: int = 8188
    output_dir: Path = Path("output")
    temp_dir: Path = Path("temp")
    input_dir: Path = Path("input")
    user_dir: Path = Path("user")
    #: ComfyUI's models/ layout root, and extra_model_paths.yaml files adding model folders
    models_dir: Path = Path("models")
    extra_model_paths: list[Path] = field(default_factory=list)
    max_upload_size_mb: float = 100.0
    #: ``--enable-cors-header [ORIGIN]``: None = off (loopback origin check instead), "*" = any origin
    enable_cors_header: str | None = None
    #: ``--auth-token``: a bearer token required on every route and the WebSocket
    auth_token: str | None = None
    disable_metadata: bool = False
    #: the SQLite file holding the queue and history across restarts (None: memory only, as ComfyUI)
    database: Path | None = None
    #: after a crash, run the prompt that was running again instead of recording it as failed
    requeue_running: bool = False
    #: node packs: their folder, where their environments live, wheel folders, offline builds
    extensions_dir: Path | None = None
    envs_dir: Path | None = None
    find_links: list[str] = field(default_factory=list)
    offline: bool = False
    cache_lru: int | None = None
    cache_ram: float | None = None
    cache_none: bool = False
    max_history: int = 10000
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServerState:
    config: ServerConfig
    registry: Registry
    queue: PromptQueue
    history: History
    sockets: WebSockets
    executor: Executor | None = None
    worker: ExecutorThread | None = None
    validator: ExecutorThread | None = None
    task: asyncio.Task[None] | None = None
    #: set when node packs are loaded (and the queue recovered): prompts and /object_info wait for it, the
    #: server itself answers at once
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: set once the stored history is back in memory (before packs load): /history waits for it
    history_ready: asyncio.Event = field(default_factory=asyncio.Event)
    shm: Any = None
    store: Store | None = None
    runners: list[Any] = field(default_factory=list)
    packs: list[Any] = field(default_factory=list)
    #: /free flags, applied by the worker after the current prompt
    free_requested: set[str] = field(default_factory=set)
    #: the rate-limited collection after each prompt (issue 15 item 1)
    collector: Collector = field(default_factory=Collector)
    #: the host's one ModelManager (also at ``app[MODELS]``), handed to the executor
    models: ModelManager | None = None
    #: what runs prompts (host.server.workers): the in-process executor by default, Ray actors with
    #: ``--workers ray``
    pool: Any = None
    #: the /metrics figures (host.server.metrics.Metrics), built by build_app
    metrics: Any = None
    #: cleared while a node pack reloads (``--watch-packs``, host/server/pack_watch.py): no prompt starts then
    dispatching: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))

    def apply_free(self) -> None:
        """/free's flags on every worker (host.server.workers: ``unload_models`` empties the model cache,
        ``free_memory`` the executor's caches too, as ComfyUI's worker does)."""
        if self.pool is not None:
            self.pool.free(set(self.free_requested))
        self.free_requested.clear()

    def status(self) -> dict[str, Any]:
        return {"exec_info": {"queue_remaining": self.queue.remaining()}}

    def broadcast_status(self) -> None:
        self.sockets.send_soon({"type": "status", "data": {"status": self.status()}}, None)


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


STATE = web.AppKey("nodehost_state", ServerState)
#: the host's ModelManager (host.models.manager), built at start-up
MODELS = web.AppKey("nodehost_models", ModelManager)


def now_ms() -> int:
    return int(time.time() * 1000)


__all__ = ["MODELS", "STATE", "ServerConfig", "ServerState", "now_ms"]
