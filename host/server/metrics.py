"""The figures of /metrics (Prometheus' text format, through ``prometheus-client``), kept in a registry owned by
this server (never the library's global one): queue depth, prompts by outcome, prompt and per-node-class
durations, sampling steps, and per worker (in-process: one, ``local``; with Ray: each actor) model memory per
device, shared memory in use and pack children started and crashed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host.server.state import ServerState
    from host.server.workers import WorkerResult

#: seconds: from a trivial prompt (milliseconds) to a long generation (many minutes)
PROMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
NODE_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.pending = Gauge("nodehost_queue_pending", "Prompts waiting in the queue", registry=registry)
        self.running = Gauge("nodehost_queue_running", "Prompts running now", registry=registry)
        self.prompts = Counter("nodehost_prompts", "Prompts that ended, by outcome (success, error, interrupted, "
                               "worker_lost, requeued) and worker", ["outcome", "worker"], registry=registry)
        self.prompt_seconds = Histogram("nodehost_prompt_duration_seconds", "Time from a worker taking a prompt "
                                        "to its end", ["worker"], buckets=PROMPT_BUCKETS, registry=registry)
        self.node_seconds = Histogram("nodehost_node_duration_seconds", "Time a node ran, by class",
                                      ["class_type"], buckets=NODE_BUCKETS, registry=registry)
        self.steps = Counter("nodehost_sampling_steps", "Progress steps (sampling steps) reported by nodes",
                             ["worker"], registry=registry)
        self.steps_rate = Gauge("nodehost_sampling_steps_per_second", "Steps per second of the last node that "
                                "reported steps", ["worker", "class_type"], registry=registry)
        self.workers = Gauge("nodehost_workers", "Workers by state (ready, restarting)", ["state"], registry=registry)
        self.model_bytes = Gauge("nodehost_model_memory_bytes", "Model weights held, per worker and device",
                                 ["worker", "device"], registry=registry)
        self.shm_bytes = Gauge("nodehost_shared_memory_bytes", "Shared memory in use for tensors crossing to "
                               "node pack children", ["worker"], registry=registry)
        self.pack_starts = Gauge("nodehost_pack_child_starts", "Node pack child processes started",
                                 ["worker", "pack"], registry=registry)
        self.pack_crashes = Gauge("nodehost_pack_child_crashes", "Node pack child processes found dead and "
                                  "replaced", ["worker", "pack"], registry=registry)

    def prompt_done(self, worker: str, outcome: str, seconds: float, done: WorkerResult | None) -> None:
        """One prompt ended on ``worker``."""
        self.prompts.labels(outcome, worker).inc()
        self.prompt_seconds.labels(worker).observe(seconds)
        for timing in done.timings if done is not None else []:
            self.node_seconds.labels(timing.class_type).observe(timing.seconds)
            if timing.steps:
                self.steps.labels(worker).inc(timing.steps)
                if timing.seconds > 0:
                    self.steps_rate.labels(worker, timing.class_type).set(timing.steps / timing.seconds)

    async def render(self, state: ServerState) -> bytes:
        """The text exposition, with the queue and every worker's figures read now."""
        from prometheus_client import generate_latest

        self.pending.set(len(state.queue.pending()))
        self.running.set(len(state.queue.running))
        pool = state.pool
        workers = list(pool.workers) if pool is not None else []
        ready = sum(1 for w in workers if getattr(w, "ready", True))
        self.workers.labels("ready").set(ready)
        self.workers.labels("restarting").set(len(workers) - ready)
        self.set_worker_stats(await pool.stats() if pool is not None and workers else [])
        return generate_latest(self.registry)  # type: ignore[no-any-return]

    def set_worker_stats(self, stats: list[dict[str, Any]]) -> None:
        for gauge in (self.model_bytes, self.shm_bytes, self.pack_starts, self.pack_crashes):
            gauge.clear()  # a worker or device that went away is not reported with stale figures
        for one in stats:
            name = one["name"]
            for device in one.get("models", []):
                self.model_bytes.labels(name, device["device"]).set(device["bytes"])
            self.shm_bytes.labels(name).set(one.get("shm_bytes", 0))
            for pack, count in one.get("pack_starts", {}).items():
                self.pack_starts.labels(name, pack).set(count)
            for pack, count in one.get("pack_crashes", {}).items():
                self.pack_crashes.labels(name, pack).set(count)


__all__ = ["Metrics"]
