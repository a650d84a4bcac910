"""One Ray worker (the class the pool turns into an actor with ``ray.remote``; nothing here imports Ray).

It owns exactly what an in-process server owns for execution: a node registry (the builtin nodes and the node
packs, whose children it starts), a model manager and an executor running on its own thread. Its methods are
async, so ``interrupt``, ``free`` and ``stats`` are answered while a prompt runs. ``run`` is a streaming
generator: batches of events in the order the executor emitted them, then one :class:`Finished`. When Ray
restarts the actor after a crash, ``__init__`` builds all of it again."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from host.executor.events import Event, Executed
from host.executor.timing import TimingSink
from host.scaleout.files import Snapshot, named_outputs, write_files
from host.scaleout.spec import Batch, Finished, PackMessage, PromptJob, WorkerInfo, WorkerSpec


class QueueSink:
    """The executor's EventSink on a worker: hands events from the executor's thread to the actor's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event | PackMessage] = asyncio.Queue()

    def emit(self, event: Event | PackMessage) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


class WorkerActor:
    def __init__(self, spec: WorkerSpec, name: str) -> None:
        from host.executor.caches import make_cache
        from host.executor.executor import Executor
        from host.executor.worker import ExecutorThread

        self.spec, self.name = spec, name
        #: this process (Ray restarts the actor in a new one, with new folders): names the files it ships
        self.session = uuid.uuid4().hex
        self.shared = spec.shared if spec.shared is not None else node_ip() == spec.server_ip
        self.folders = self._folders()
        self.registry, self.models = self._build_registry()
        self.thread = ExecutorThread(name=f"nodehost-{name}").start()
        self.shm: Any = None
        self.runners: list[Any] = []
        if spec.extensions_dir is not None:
            self.thread.call(self._load_packs())
        if not self.registry.frozen:
            self.registry.freeze()
        self.sink: QueueSink | None = None
        #: the ``messages`` stream's queue while the pool listens
        self.listener: QueueSink | None = None
        cache = make_cache(lru=spec.cache_lru, ram_gb=spec.cache_ram, none=spec.cache_none)
        self.executor = Executor(self.registry, self, cache, models=self.models)
        self.running: str | None = None
        self.free_pending: set[str] = set()

    def _folders(self) -> dict[str, Path]:
        spec = self.spec
        if self.shared:
            return {"input": spec.input_dir, "output": spec.output_dir, "temp": spec.temp_dir}
        root = Path(tempfile.mkdtemp(prefix=f"nodehost-{self.name}-"))
        return {k: root / k for k in ("input", "output", "temp")}

    def _build_registry(self) -> tuple[Any, Any]:
        from builtin_nodes import NodeFolders, OutputPaths
        from host.folders import ModelFolders
        from host.models.devices import DeviceConfig
        from host.models.manager import ModelManager

        spec, f = self.spec, self.folders
        models = ModelFolders(spec.models_dir)
        for config in spec.extra_model_paths:
            models.load_extra_config(config)
        paths = OutputPaths(f["output"], f["temp"], metadata=not spec.disable_metadata)
        registry = spec.registry_factory(paths, NodeFolders(f["input"], f["output"], f["temp"], models))
        return registry, ModelManager(DeviceConfig(cpu=spec.cpu), models)

    async def _load_packs(self) -> None:
        """The node packs, as the server loads them (host.server.app.start_packs), children on this worker."""
        from host.cli_ext import default_envs_dir
        from host.extensions.loader import load_extensions
        from host.extensions.packs import NodeDefCache
        from isolate.shm import ShmHost
        from isolate.venv import VenvBuilder

        spec = self.spec
        assert spec.extensions_dir is not None
        self.shm = ShmHost()
        envs = spec.envs_dir or default_envs_dir()
        folders = {k: str(v) for k, v in self.folders.items()} | {"models_dir": str(spec.models_dir)}
        self.runners, _ = await load_extensions(
            self.registry, [spec.extensions_dir] if spec.extensions_dir.is_dir() else [], VenvBuilder(envs),
            find_links=spec.find_links, offline=spec.offline, shm=self.shm,
            cache=NodeDefCache(envs.parent / "nodedefs"), folders=folders)
        for runner in self.runners:
            runner.on_message = lambda event, data, sid: self.emit(PackMessage(event, data, sid))
            runner.on_text = lambda text, node_id, sid: self.emit(PackMessage("__text__", node_id, sid, text))

    # -- the EventSink the executor sees ------------------------------------------------------------------
    def emit(self, event: Event | PackMessage) -> None:
        """During a prompt into its stream; a pack's message between prompts into the ``messages`` stream."""
        sink = self.sink if self.sink is not None else self.listener if isinstance(event, PackMessage) else None
        if sink is not None:
            sink.emit(event)

    # -- actor methods -------------------------------------------------------------------------------------
    async def info(self) -> WorkerInfo:
        gpus = [g for g in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if g]
        return WorkerInfo(os.getpid(), node_ip(), self.shared, gpus)

    async def run(self, job: PromptJob) -> AsyncIterator[Batch | Finished]:
        self.running = job.prompt_id
        self.sink = sink = QueueSink(asyncio.get_running_loop())
        try:
            if not self.shared:
                write_files(job.inputs, self.folders)
            snapshot = None if self.shared else Snapshot(self.folders)
            timing = TimingSink(self, job.prompt)
            self.executor.sink = timing
            future = asyncio.wrap_future(self.thread.submit(self._execute(job)))
            shipped: set[tuple[str, str]] = set()
            while not future.done() or not sink.queue.empty():
                events = await self._next_events(sink, future)
                if events:
                    yield self._batch(events, shipped)
            result = future.result()
            files = snapshot.changed(shipped) if snapshot is not None else []
            yield Finished(result, timing.records, files, self.models.cached_files(), self.session)
        finally:
            self.sink = None
            self.running = None
            if self.free_pending:
                await self.free(set())

    async def messages(self) -> AsyncIterator[Batch]:
        """Pack messages sent between prompts (``PromptServer.instance.send_sync`` from a pack's thread or
        route), as they come: the pool keeps one such stream open per worker."""
        self.listener = listener = QueueSink(asyncio.get_running_loop())
        try:
            while True:
                first = await listener.queue.get()
                yield Batch(self._drain(listener, [first]), [])
        finally:
            if self.listener is listener:
                self.listener = None

    async def _next_events(self, sink: QueueSink, future: asyncio.Future[Any]) -> list[Any]:
        """What the executor emitted since the last batch (waiting for at least one, or the prompt's end)."""
        if sink.queue.empty():
            getter = asyncio.ensure_future(sink.queue.get())
            await asyncio.wait([getter, future], return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                return self._drain(sink, [])
            return self._drain(sink, [getter.result()])
        return self._drain(sink, [])

    @staticmethod
    def _drain(sink: QueueSink, events: list[Any]) -> list[Any]:
        while not sink.queue.empty():
            events.append(sink.queue.get_nowait())
        return events

    def _batch(self, events: list[Any], shipped: set[tuple[str, str]]) -> Batch:
        files = []
        if not self.shared:
            for event in events:
                if isinstance(event, Executed):
                    for blob in named_outputs(event.output, self.folders):
                        if (blob.folder, blob.path) not in shipped:
                            shipped.add((blob.folder, blob.path))
                            files.append(blob)
        return Batch(events, files, self.session)

    async def _execute(self, job: PromptJob) -> Any:
        """On the executor's thread: validate against this worker's nodes, then run (as in-process)."""
        from host.executor.errors import ValidationFailed
        from host.executor.prompt_result import PromptResult

        try:
            return await self.executor.run(job.prompt, job.prompt_id, job.extra_data, job.outputs)
        except ValidationFailed as failed:  # this worker's nodes differ from the server's
            error = {"prompt_id": job.prompt_id, "node_id": None, "node_type": None, "executed": [],
                     "exception_message": f"{failed} (on worker {self.name})", "exception_type": "ValidationFailed",
                     "traceback": [], "current_inputs": {}, "current_outputs": [], "timestamp": int(time.time() * 1000)}
            return PromptResult(job.prompt_id, "error", {}, {}, [["execution_error", error]], [], error)

    async def interrupt(self, prompt_id: str | None = None) -> bool:
        """Stop ``prompt_id`` (else the running one). One the pool handed here that has not started yet stops
        as it starts (the executor's ``interrupt_next``): the interrupt can overtake the prompt's ``run`` call
        (test_queue_order_front_delete_and_interrupt once saw that prompt run to success in CI)."""
        target = prompt_id if prompt_id is not None else self.running
        if target is None:
            return False
        self.executor.interrupt(target)
        return True

    async def free(self, flags: set[str]) -> None:
        """/free on this worker, after its current prompt."""
        self.free_pending |= flags
        if self.running is not None:
            return
        flags, self.free_pending = self.free_pending, set()
        if flags:
            self.models.unload_all()
        if "free_memory" in flags:
            self.executor.cache.clear()
            self.executor.subcaches.clear()
            import gc

            gc.collect()

    async def stats(self) -> dict[str, Any]:
        from host.server.worker_stats import local_stats

        return await asyncio.to_thread(local_stats, self.name, self.models, self.shm, self.runners)


def node_ip() -> str:
    try:
        import ray.util

        return str(ray.util.get_node_ip_address())
    except (ImportError, RuntimeError):
        return ""


__all__ = ["QueueSink", "WorkerActor"]
