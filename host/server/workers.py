"""The one interface between the queue and whatever runs prompts.

The queue runner (dispatch.py) sees a :class:`Workers` pool of :class:`Worker` s: each runs one prompt at a
time, streams its events to the server's WebSocket router and returns a :class:`WorkerResult`. The default is
:class:`LocalWorkers`, the in-process executor on its own thread (one worker); ``--workers ray`` puts Ray actors
behind the same interface (host/scaleout), so the routes never know which is behind them."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from host.executor.prompt_result import PromptResult
from host.executor.timing import NodeTiming, TimingSink

if TYPE_CHECKING:
    from host.executor.executor import Executor
    from host.server.queue import QueueItem
    from host.server.state import ServerState


class WorkerLost(Exception):
    """The worker running a prompt went away mid-prompt: its process died (``WorkerDied``) or it hung past its
    deadline and was killed (``WorkerHung``). The prompt did not finish; the worker is being restarted."""

    def __init__(self, kind: str, worker: str, message: str) -> None:
        super().__init__(f"{message} (worker {worker})")
        self.kind = kind
        self.worker = worker


class WorkerResult(msgspec.Struct):
    """What a worker returns for one prompt: the executor's result and how long each node ran."""

    result: PromptResult
    timings: list[NodeTiming] = []


class Worker(Protocol):
    """Runs one prompt at a time."""

    #: a short name (``local``, ``ray-0``, ...): the ``worker`` label of /metrics
    name: str
    #: the prompt it runs now (set by the dispatcher when it hands one over, cleared when it ends)
    running: str | None

    def holds(self) -> list[str]:
        """Paths of the model files it has loaded (routing prefers a worker holding a prompt's models)."""

    def recent(self) -> set[str]:
        """Keys of the nodes of the last prompt it ran (whose outputs its cache may hold)."""

    async def execute(self, item: QueueItem) -> WorkerResult:
        """Run ``item``; its events reach ``state.sockets`` in order, before this returns. Raises
        :class:`WorkerLost` when the worker dies or hangs mid-prompt."""

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Stop the running prompt (only if it is ``prompt_id``, when given); whether it was asked to."""


class Workers(Protocol):
    """The pool the dispatcher hands prompts to."""

    workers: list[Any]  # list[Worker]

    async def start(self, state: ServerState) -> None: ...

    async def stop(self) -> None:
        """Interrupt what runs, let it end, let go of the workers."""

    def free(self, flags: set[str]) -> None:
        """/free's ``unload_models`` / ``free_memory`` on every worker (between prompts)."""

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """/interrupt: the prompt ``prompt_id`` wherever it runs, or, without one, every running prompt."""

    async def stats(self) -> list[dict[str, Any]]:
        """Per-worker figures for /metrics (``name``, ``models`` per device, ``shm_bytes``, pack children)."""


class LocalWorker:
    """The in-process executor behind the :class:`Worker` interface."""

    name = "local"

    def __init__(self, executor: Executor, thread: Any) -> None:
        self.executor = executor
        self.thread = thread  # host.executor.worker.ExecutorThread
        self.running: str | None = None
        self.future: concurrent.futures.Future[PromptResult] | None = None
        self._sink = executor.sink
        self._recent: set[str] = set()

    def holds(self) -> list[str]:
        models = self.executor.models
        return models.cached_files() if models is not None else []

    def recent(self) -> set[str]:
        return self._recent

    async def execute(self, item: QueueItem) -> WorkerResult:
        timing = TimingSink(self._sink, item.prompt)
        self.executor.sink = timing  # one prompt at a time: this prompt's events are timed
        self.future = self.thread.submit(self.executor.execute(item.validated, item.prompt_id,
                                                               item.extra_data | item.sensitive))
        result = await asyncio.wrap_future(self.future)
        from host.server.affinity import node_keys

        self._recent = node_keys(item.prompt)
        return WorkerResult(result, timing.records)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        running = self.running
        if running is None or prompt_id not in (None, running):
            return False
        self.executor.interrupt(running)  # also when handed over but not started yet on its thread
        return True


class LocalWorkers:
    """One in-process worker: the executor on the server's executor thread (``state.worker``)."""

    def __init__(self) -> None:
        self.workers: list[LocalWorker] = []
        self.state: ServerState | None = None

    async def start(self, state: ServerState) -> None:
        from host.executor.caches import make_cache
        from host.executor.executor import Executor
        from host.server.ws import ServerSink

        cfg = state.config
        cache = make_cache(lru=cfg.cache_lru, ram_gb=cfg.cache_ram, none=cfg.cache_none)
        state.executor = Executor(state.registry, ServerSink(asyncio.get_running_loop(), state.sockets), cache,
                                  models=state.models)
        self.state = state
        self.workers = [LocalWorker(state.executor, state.worker)]

    async def stop(self) -> None:
        self.interrupt()
        running = [w.future for w in self.workers if w.future is not None and not w.future.done()]
        if running:  # let it end (interrupted) on its own thread
            await asyncio.wait([asyncio.wrap_future(f) for f in running], timeout=30)

    def free(self, flags: set[str]) -> None:
        """``unload_models`` moves every model off the GPU and empties the model cache; ``free_memory`` does
        that and drops the executor's caches too (as ComfyUI's worker does)."""
        state = self.state
        if state is None:
            return
        if flags and state.models is not None:
            state.models.unload_all()
        if "free_memory" in flags and state.executor is not None:
            state.executor.cache.clear()
            state.executor.subcaches.clear()
            state.collector.now()

    def interrupt(self, prompt_id: str | None = None) -> bool:
        return any([w.interrupt(prompt_id) for w in self.workers])

    async def stats(self) -> list[dict[str, Any]]:
        from host.server.worker_stats import local_stats

        assert self.state is not None
        return [await asyncio.to_thread(local_stats, "local", self.state.models, self.state.shm,
                                        self.state.runners)]


__all__ = ["LocalWorker", "LocalWorkers", "Worker", "WorkerLost", "WorkerResult", "Workers"]
