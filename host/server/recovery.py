"""Start-up after a crash or restart: history back in memory, pending prompts queued again in their order, the
prompt that was running recorded as failed (or queued again when configured)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from host.executor.errors import ValidationFailed
from host.executor.validation import validate_prompt
from host.server.queue import QueueItem
from host.server.store import StoredPrompt

if TYPE_CHECKING:
    from host.server.app import ServerState

log = logging.getLogger("nodehost.server")
RESTART_MESSAGE = "nodehost stopped while this prompt was running (crash or restart); it did not finish"


def failed_entry(stored: StoredPrompt, exception_type: str, message: str) -> dict[str, Any]:
    error = {"prompt_id": stored.prompt_id, "node_id": None, "node_type": None, "executed": [],
             "exception_message": message, "exception_type": exception_type, "traceback": [],
             "current_inputs": {}, "current_outputs": [], "timestamp": int(time.time() * 1000)}
    return {"prompt": [stored.number, stored.prompt_id, stored.prompt, stored.extra_data, stored.outputs],
            "outputs": {}, "meta": {},
            "status": {"status_str": "error", "completed": False, "messages": [["execution_error", error]]}}


async def recover(state: ServerState) -> None:
    store = state.store
    assert store is not None and state.validator is not None
    for prompt_id, item in store.history():
        state.history.add(prompt_id, item)
    state.queue.counter = max(state.queue.counter, store.counter())
    again = store.queued("running") if state.config.requeue_running else []
    for stored in store.queued("running"):
        if stored in again:
            continue
        entry = failed_entry(stored, "ServerRestarted", RESTART_MESSAGE)
        state.history.add(stored.prompt_id, entry)
        store.finish(stored.prompt_id, entry, state.config.max_history)
        log.warning("prompt %s was running when the server stopped: recorded as failed", stored.prompt_id)
    for stored in again + store.queued("pending"):
        await requeue(state, stored)


async def requeue(state: ServerState, stored: StoredPrompt) -> None:
    """Validate a stored prompt again (nodes may have changed) and put it back in the queue."""
    assert state.validator is not None and state.store is not None
    try:
        validated = await asyncio.wrap_future(state.validator.submit(
            validate_prompt(stored.prompt, state.registry, stored.partial_targets)))
    except ValidationFailed as failed:
        entry = failed_entry(stored, "ValidationFailed", failed.error.line())
        state.history.add(stored.prompt_id, entry)
        state.store.finish(stored.prompt_id, entry, state.config.max_history)
        return
    state.store.add_pending(stored)
    state.queue.put(QueueItem(stored.number, stored.prompt_id, stored.prompt, stored.extra_data,
                              validated.outputs, stored.sensitive, validated))
