"""Graph-building tools node code uses (ComfyUI's comfy_execution.graph_utils / graph): ExecutionBlocker."""

from __future__ import annotations


class ExecutionBlocker:
    """Returned in place of an output value: every node fed by it is skipped and receives the blocker.

    A blocker with a message reports it once as an execution error (``ExecutionBlocked``); ``None`` blocks
    silently."""

    def __init__(self, message: str | None) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"ExecutionBlocker({self.message!r})"
