"""What the executor sends to a node runner and what comes back (the runner protocol's data)."""

from __future__ import annotations

from typing import Any

import msgspec


class NodeCall(msgspec.Struct):
    """One call of a node body: list mapping already applied, so ``inputs`` holds this call's values.

    ``hidden`` maps hidden kinds ("PROMPT", "UNIQUE_ID", "EXTRA_PNGINFO", ...) to their values.
    """

    prompt_id: str
    node_id: str
    class_type: str
    index: int
    inputs: dict[str, Any]
    hidden: dict[str, Any] = {}


class NodeResult(msgspec.Struct):
    """A normalized node return: output values (one per output slot), an optional ui dict, an optional
    expansion graph (API format)."""

    values: tuple[Any, ...] = ()
    ui: dict[str, Any] | None = None
    expand: dict[str, Any] | None = None
