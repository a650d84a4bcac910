"""The queue runner: hands the next queued prompt to an idle worker (affinity.py chooses which) and writes
its history when it ends. One prompt per worker at a time; with the in-process default there is one worker,
so prompts run one after another as in ComfyUI.

For each prompt: history written before the final status and ``executing {node: null}``, success or error.
A worker lost mid-prompt (WorkerLost) fails the prompt, or queues it again once with ``--requeue-running``,
as start-up recovery does after a crash."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from typing import TYPE_CHECKING, Any

from host.server.affinity import choose
from host.server.workers import WorkerLost, WorkerResult

if TYPE_CHECKING:
    from host.server.queue import QueueItem
    from host.server.state import ServerState

log = logging.getLogger("nodehost.server")


async def run_queue(state: ServerState) -> None:
    """Forever: wait for an idle worker, take the next prompt (queue order), start it there."""
    pool = state.pool
    assert pool is not None
    freed = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    runs: dict[str, int] = {}

    def ended(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        freed.set()

    try:
        while True:
            idle = [w for w in pool.workers if w.running is None]
            if not idle:
                freed.clear()
                await freed.wait()
                continue
            await state.dispatching.wait()  # cleared while a node pack reloads
            item = await state.queue.get()
            if not state.dispatching.is_set():  # a reload began meanwhile: the prompt keeps its place
                state.queue.done(item)
                state.queue.put(item)
                continue
            idle = [w for w in pool.workers if w.running is None]  # again: more may be idle after the wait
            worker = choose(idle, item.prompt, runs)
            worker.running = item.prompt_id
            runs[worker.name] = runs.get(worker.name, 0) + 1
            task = asyncio.ensure_future(run_one(state, worker, item))
            tasks.add(task)
            task.add_done_callback(ended)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_one(state: ServerState, worker: Any, item: QueueItem) -> None:
    store_call(state, "mark_running", item.prompt_id)
    state.broadcast_status()
    state.sockets.client_of[item.prompt_id] = item.extra_data.get("client_id")
    started = time.monotonic()
    done: WorkerResult | None = None
    outcome: str | None = None
    try:
        done = await worker.execute(item)
        result = done.result
        outputs, status, meta, messages = result.outputs, result.status, result.meta, result.messages
    except WorkerLost as lost:
        if state.config.requeue_running and item.attempts == 0:
            worker.running = None
            if state.metrics is not None:
                state.metrics.prompt_done(worker.name, "requeued", time.monotonic() - started, None)
            requeue(state, item, lost)
            return
        outputs, status, meta, messages = {}, "error", {}, [["execution_error", lost_error(item, lost)]]
        outcome = "worker_lost"
        state.sockets.send_soon({"type": "execution_error", "data": messages[0][1]},
                                state.sockets.client_of.get(item.prompt_id))
    except Exception as exc:  # the executor itself failed: record it, tell the client, keep serving
        log.exception("prompt %s failed outside any node", item.prompt_id)
        error = prompt_error(item, f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
                             str(exc), traceback.format_exception(exc))
        outputs, status, meta, messages = {}, "error", {}, [["execution_error", error]]
        state.sockets.send_soon({"type": "execution_error", "data": error},
                                state.sockets.client_of.get(item.prompt_id))
    finally:
        worker.running = None
    if state.metrics is not None:
        state.metrics.prompt_done(worker.name, outcome or status, time.monotonic() - started, done)
    finish(state, item, outputs, status, meta, messages)


def finish(state: ServerState, item: QueueItem, outputs: dict[str, Any], status: str, meta: dict[str, Any],
           messages: list[Any]) -> None:
    entry = {"prompt": item.wire(), "outputs": outputs, "meta": meta,
             "status": {"status_str": "success" if status == "success" else "error",
                        "completed": status == "success", "messages": messages}}
    state.history.add(item.prompt_id, entry)
    store_call(state, "finish", item.prompt_id, entry, state.config.max_history)
    state.queue.done(item)
    if state.free_requested and not any(w.running for w in state.pool.workers):
        state.apply_free()
    else:
        state.collector.after_prompt()
    state.broadcast_status()
    client = state.sockets.client_of.pop(item.prompt_id, None)
    state.sockets.send_soon({"type": "executing", "data": {"node": None, "prompt_id": item.prompt_id}}, client)
    state.sockets.prompt_done(item.prompt_id)
    if client is not None:
        state.sockets.last_node.pop(client, None)


def lost_error(item: QueueItem, lost: WorkerLost) -> dict[str, Any]:
    """The ``execution_error`` of a prompt whose worker went away (no node to blame)."""
    return prompt_error(item, lost.kind, str(lost))


def prompt_error(item: QueueItem, exception_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    """An ``execution_error`` with every field ComfyUI's has, for a failure no node is to blame for."""
    return {"prompt_id": item.prompt_id, "node_id": None, "node_type": None, "executed": [],
            "exception_message": message, "exception_type": exception_type, "traceback": trace or [],
            "current_inputs": {}, "current_outputs": [], "timestamp": int(time.time() * 1000)}


def requeue(state: ServerState, item: QueueItem, lost: WorkerLost) -> None:
    """Put a prompt whose worker died back in the queue, in its place (its number), once."""
    log.warning("prompt %s: %s; queued again (--requeue-running)", item.prompt_id, lost)
    state.queue.done(item)
    store_call(state, "mark_pending", item.prompt_id)
    item.attempts += 1
    state.queue.put(item)
    state.broadcast_status()


def store_call(state: ServerState, method: str, *args: Any) -> None:
    """A store write from the worker: a broken store is logged (and reported by /system_stats), the prompt
    still runs and its history stays in memory."""
    from host.server.store import StoreFailed

    if state.store is None:
        return
    try:
        getattr(state.store, method)(*args)
    except StoreFailed:
        pass  # logged by the store


__all__ = ["run_queue", "store_call"]
