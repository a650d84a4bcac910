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
    from host.server.state import ServerState

log = logging.getLogger("nodehost.server")
RESTART_MESSAGE = "nodehost stopped while this prompt was running (crash or restart); it did not finish"


def failed_entry(stored: StoredPrompt, exception_type: str, message: str) -> dict[str, Any]:
    error = {"prompt_id": stored.prompt_id, "node_id": None, "node_type": None, "executed": [],
             "exception_message": message, "exception_type": exception_type, "traceback": [],
             "current_inputs": {}, "current_outputs": [], "timestamp": int(time.time() * 1000)}
    return {"prompt": [stored.number, stored.prompt_id, stored.prompt, stored.extra_data, stored.outputs],
            "outputs": {}, "meta": {},
            "status": {"status_str": "error", "completed": False, "messages": [["execution_error", error]]}}


def restore_history(state: ServerState) -> list[StoredPrompt]:
    """History back in memory, the prompt counter, the prompt that was running recorded as failed (nothing here
    needs a node pack, so it is done before packs load); the stored prompts to queue again, in their order."""
    store = state.store
    assert store is not None
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
    return again + store.queued("pending")


async def recover(state: ServerState, waiting: list[StoredPrompt]) -> None:
    """Queue the stored prompts again (after packs loaded: validation needs their nodes)."""
    for stored in waiting:
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
    state.store.add_pending(stored, replace=True)
    state.queue.put(QueueItem(stored.number, stored.prompt_id, stored.prompt, stored.extra_data,
                              validated.outputs, stored.sensitive, validated))
