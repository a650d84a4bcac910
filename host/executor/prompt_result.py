"""What a prompt produced (the executor's return value)."""

from __future__ import annotations

from typing import Any

import msgspec


class PromptResult(msgspec.Struct):
    """What a prompt produced: status ``success``/``error``/``interrupted``, ui outputs per node, history
    meta, the status messages (``[[event, data], ...]``) and, on failure, the error event's data."""

    prompt_id: str
    status: str
    outputs: dict[str, Any]
    meta: dict[str, Any]
    messages: list[list[Any]]
    executed: list[str]
    error: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"PromptResult({self.prompt_id!r}, {self.status!r}, {len(self.outputs)} outputs)"
