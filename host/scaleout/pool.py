"""``--workers ray``: Ray actors behind the server's :class:`~host.server.workers.Workers` interface.

One actor per GPU (``num_gpus=1``), or ``cpu_workers`` CPU actors on a cluster without GPUs. Ray restarts an
actor that dies (``max_restarts=-1``); its in-flight prompt is never retried by Ray (``max_task_retries=0``):
the dispatcher fails or re-queues it. A prompt past ``prompt_deadline`` has its actor killed (and so
restarted). Events arrive as the actor's stream and go to the server's WebSocket router in order (a pack's messages
between prompts through a second stream per worker, ``messages``); files cross
as bytes in the stream when the worker does not share the server's folders, and land under names the server
numbers (landing.py).

The actors are owned by the server's Ray job (not detached): stopped with the server, and ended by Ray when the
server dies, so a server started again on the same queue starts new ones (see host/server/recovery.py for the
prompts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from host.executor.events import Executed
from host.scaleout.actor import WorkerActor
from host.scaleout.files import input_files
from host.scaleout.landing import Landing
from host.scaleout.spec import (
    Batch,
    Finished,
    PackMessage,
    PromptJob,
    RaySettings,
    RayUnavailable,
    WorkerInfo,
    WorkerSpec,
)
from host.server.affinity import node_keys
from host.server.workers import WorkerLost, WorkerResult

if TYPE_CHECKING:
    from pathlib import Path

    from host.server.queue import QueueItem
    from host.server.state import ServerState

log = logging.getLogger("nodehost.scaleout")
INSTALL_HINT = "--workers ray needs Ray: pip install -e '.[ray]' (or pip install 'nodehost[ray]')"


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    return ray


class RayWorker:
    """One actor, as the dispatcher sees a worker."""

    def __init__(self, name: str, handle: Any, info: WorkerInfo, pool: RayWorkers) -> None:
        self.name, self.handle, self.info, self.pool = name, handle, info, pool
        self.running: str | None = None
        #: False while Ray restarts the actor after it was lost (routing prefers ready workers)
        self.ready = True
        self._restarted: asyncio.Future[None] | None = None
        self._holds: list[str] = []
        self._recent: set[str] = set()
        #: its files landing in the server's folders under the server's names (when it does not share them)
        self.landing = Landing(pool.folders)

    def holds(self) -> list[str]:
        return self._holds

    def recent(self) -> set[str]:
        return self._recent

    async def execute(self, item: QueueItem) -> WorkerResult:
        state = self.pool.state
        assert state is not None
        if self._restarted is not None:  # handed a prompt while restarting: it starts once the actor is back
            await asyncio.shield(self._restarted)
        inputs = [] if self.info.shared else await asyncio.to_thread(input_files, item.prompt, self.pool.folders)
        job = PromptJob(item.prompt_id, item.prompt, item.extra_data | item.sensitive, item.outputs, inputs)
        deadline = self.pool.settings.prompt_deadline
        try:
            finished = await asyncio.wait_for(self._run(job, state), deadline)
        except TimeoutError:
            self.pool.ray.kill(self.handle, no_restart=False)  # Ray starts it again
            self.restarting()
            raise WorkerLost("WorkerHung", self.name, f"the prompt ran past its deadline of {deadline:g} s; "
                             "its worker was killed and is being restarted") from None
        except self.pool.ray.exceptions.RayActorError as exc:
            log.error("worker %s was lost mid-prompt %s: %s", self.name, item.prompt_id, exc)
            self.restarting()
            raise WorkerLost("WorkerDied", self.name, "the worker running this prompt died "
                             f"({type(exc).__name__}); Ray is restarting it") from None
        self._holds, self._recent = finished.holds, node_keys(item.prompt)
        return WorkerResult(finished.result, finished.timings)

    async def _run(self, job: PromptJob, state: ServerState) -> Finished:
        """The job's stream; refused before its first frame because Ray found the actor unavailable (restarting,
        or restarted under it: lost some other way than by this prompt), it waits for the new process and is
        sent once more: no event of it was seen, so none of its nodes ran."""
        started: list[bool] = []
        try:
            return await self._stream(job, state, started)
        except self.pool.ray.exceptions.ActorUnavailableError:
            if started:
                raise
            log.warning("worker %s was restarting when prompt %s reached it: sent again once it is back",
                        self.name, job.prompt_id)
            if self._restarted is None:
                self.restarting()
            await asyncio.shield(self._restarted)
            return await self._stream(job, state, started)

    def restarting(self) -> None:
        """The actor is being restarted by Ray: not ready until its new process answers (its models and
        caches are new)."""
        self.ready = False
        self._holds, self._recent = [], set()
        self._restarted = asyncio.ensure_future(self._wait_restarted(self.info.pid))

    async def _wait_restarted(self, old_pid: int) -> None:
        # the old process can still answer for a moment after ray.kill (it serves calls concurrently with the
        # prompt it hangs in): only an answer from another process means the restart is done
        while True:
            with contextlib.suppress(self.pool.ray.exceptions.RayActorError):  # not back yet, or lost again
                info = await self.handle.info.remote()
                if info.pid != old_pid:
                    self.info = info
                    break
            await asyncio.sleep(0.5)
        self.ready, self._restarted = True, None
        log.info("worker %s is back (pid %d)", self.name, self.info.pid)

    async def _stream(self, job: PromptJob, state: ServerState, started: list[bool]) -> Finished:
        stream = self.handle.run.options(num_returns="streaming").remote(job)
        finished: Finished | None = None
        try:
            async for ref in stream:
                frame = await ref
                started.append(True)
                if isinstance(frame, Finished):
                    await self.pool.land(self.landing, frame.files, frame.session)
                    frame.result.outputs = self.landing.rename_outputs(frame.result.outputs, frame.session)
                    finished = frame
                else:
                    await self.deliver(frame, state)
        except asyncio.CancelledError:
            self.pool.ray.cancel(stream)
            raise
        if finished is None:
            raise WorkerLost("WorkerDied", self.name, "the worker's stream ended without a result")
        return finished

    async def deliver(self, batch: Batch, state: ServerState) -> None:
        """A batch's files first (so /view finds them when ``executed`` arrives, under the name the server gave
        them), then its events in order."""
        await self.pool.land(self.landing, batch.files, batch.session)
        sockets = state.sockets
        for event in batch.events:
            if isinstance(event, Executed) and self.landing.names:
                event = msgspec.structs.replace(event, output=self.landing.rename(event.output, batch.session))
            if not isinstance(event, PackMessage):
                sockets.route(event)
            elif event.text is not None:
                sockets.send_soon({"type": "__text__", "text": event.text, "node_id": event.data}, event.sid)
            else:
                sockets.send_soon({"type": event.event, "data": event.data}, event.sid)

    async def listen(self) -> None:
        """Send on the pack messages this worker's packs send between prompts, for as long as the pool runs
        (a lost actor's stream ends: the restarted one is listened to)."""
        ray = self.pool.ray
        while True:
            stream = None
            try:
                stream = self.handle.messages.options(num_returns="streaming").remote()
                async for ref in stream:
                    batch = await ref
                    assert self.pool.state is not None
                    await self.deliver(batch, self.pool.state)
            except asyncio.CancelledError:
                if stream is not None:
                    ray.cancel(stream)
                raise
            except ray.exceptions.RayActorError:
                pass  # lost or restarting: listen again once it is back
            except Exception:
                log.exception("worker %s: its pack messages stream failed", self.name)
            await asyncio.sleep(0.5)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        if self.running is None or prompt_id not in (None, self.running):
            return False
        self.handle.interrupt.remote(self.running)
        return True


class RayWorkers:
    """The pool of Ray actors (see the module docstring)."""

    def __init__(self, settings: RaySettings | None = None) -> None:
        self.settings = settings or RaySettings()
        self.ray = require_ray()
        self.workers: list[RayWorker] = []
        self.state: ServerState | None = None
        self.folders: dict[str, Path] = {}
        self.started_ray = False
        self._listeners: list[asyncio.Future[None]] = []

    def connect(self) -> None:
        """Join (or start) the cluster now, on the calling thread: ``nodehost serve`` does it before serving,
        in its main thread, so a cluster it cannot reach is an error at once and its signal handlers win."""
        if not self.ray.is_initialized():
            self.ray.init(address=self.settings.address, include_dashboard=False, **self.settings.init_kwargs)
            self.started_ray = True

    async def start(self, state: ServerState) -> None:
        ray, settings, cfg = self.ray, self.settings, state.config
        self.state = state
        self.folders = {"input": cfg.input_dir, "output": cfg.output_dir, "temp": cfg.temp_dir}
        if not ray.is_initialized():
            await asyncio.to_thread(self.connect)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = gpus or settings.cpu_workers or 1
        spec = WorkerSpec.from_config(cfg, shared=settings.shared, server_ip=ray.util.get_node_ip_address(),
                                      registry_factory=settings.registry_factory)
        if not gpus:
            spec.cpu = True
        actor = ray.remote(WorkerActor)
        options = {"num_cpus": 1, "num_gpus": 1 if gpus else 0, "max_restarts": -1, "max_task_retries": 0,
                   "max_concurrency": 64}
        # named (``nodehost-ray-0``... in this server's own namespace) and owned by this server: Ray ends them when
        # it stops or dies, so a server started again never finds its predecessor's holding the GPUs
        handles = [actor.options(name=f"nodehost-ray-{i}", **options).remote(spec, f"ray-{i}") for i in range(count)]
        infos = await asyncio.gather(*(h.info.remote() for h in handles))
        self.workers = [RayWorker(f"ray-{i}", handle, info, self)
                        for i, (handle, info) in enumerate(zip(handles, infos, strict=True))]
        self._listeners = [asyncio.ensure_future(w.listen()) for w in self.workers]
        log.info("%d Ray worker(s) ready (%s): %s", count, f"{gpus} GPU(s)" if gpus else "CPU",
                 ", ".join(f"{w.name} pid {w.info.pid} on {w.info.node_ip}" for w in self.workers))

    async def land(self, landing: Landing, files: list[Any], session: str) -> None:
        if files:
            await asyncio.to_thread(landing.land, files, session)

    async def stop(self) -> None:
        self.interrupt()
        for _ in range(300):  # let the interrupted prompts end (30 s at most)
            if not any(w.running for w in self.workers):
                break
            await asyncio.sleep(0.1)
        for task in self._listeners:
            task.cancel()
        await asyncio.gather(*self._listeners, return_exceptions=True)
        self._listeners = []
        for worker in self.workers:
            if worker._restarted is not None:
                worker._restarted.cancel()
            self.ray.kill(worker.handle, no_restart=True)
        self.workers = []
        if self.started_ray:
            await asyncio.to_thread(self.ray.shutdown)

    def free(self, flags: set[str]) -> None:
        for worker in self.workers:
            worker.handle.free.remote(set(flags))

    def interrupt(self, prompt_id: str | None = None) -> bool:
        return any([w.interrupt(prompt_id) for w in self.workers])

    async def stats(self) -> list[dict[str, Any]]:
        """Each worker's figures; a worker that does not answer within 5 s (busy restarting) is left out."""
        refs = [w.handle.stats.remote() for w in self.workers]
        done, _ = await asyncio.wait([asyncio.ensure_future(_await(r)) for r in refs], timeout=5)
        out = []
        for task in done:
            if task.exception() is None:
                out.append(task.result())
        return sorted(out, key=lambda s: s["name"])


async def _await(ref: Any) -> Any:
    return await ref


__all__ = ["INSTALL_HINT", "RayWorker", "RayWorkers", "require_ray"]
