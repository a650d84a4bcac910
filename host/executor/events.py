"""Execution events (COMPAT §2.3 fields) and the sink they go to. The server turns them into WebSocket
messages; the executor only emits them."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import msgspec


def now_ms() -> int:
    return int(time.time() * 1000)


class Event(msgspec.Struct, tag_field="type"):
    """Base of every event; ``type`` (the tag) is the WebSocket message type."""


class ExecutionStart(Event, tag="execution_start"):
    prompt_id: str
    timestamp: int


class ExecutionCached(Event, tag="execution_cached"):
    nodes: list[str]
    prompt_id: str
    timestamp: int


class Executing(Event, tag="executing"):
    node: str | None
    display_node: str | None
    prompt_id: str


class Executed(Event, tag="executed"):
    node: str
    display_node: str
    output: dict[str, Any] | None
    prompt_id: str


class ExecutionSuccess(Event, tag="execution_success"):
    prompt_id: str
    timestamp: int


class ExecutionError(Event, tag="execution_error"):
    prompt_id: str
    node_id: str
    node_type: str
    executed: list[str]
    exception_message: str
    exception_type: str
    traceback: list[str]
    current_inputs: dict[str, Any] | list[Any]
    current_outputs: list[str]
    timestamp: int


class ExecutionInterrupted(Event, tag="execution_interrupted"):
    prompt_id: str
    node_id: str
    node_type: str
    executed: list[str]
    timestamp: int


class Progress(Event, tag="progress"):
    """A ``ProgressBar`` update (ComfyUI's legacy ``progress`` message)."""

    value: float
    max: float | None
    prompt_id: str
    node: str


class NodeState(Event, tag="node_state"):
    """One node's state changed (running / finished, progress value). The server folds these into §2.3's
    cumulative ``progress_state`` snapshot; the executor never builds it (that would be quadratic)."""

    prompt_id: str
    node_id: str
    display_node_id: str
    parent_node_id: str | None
    real_node_id: str
    state: str
    value: float
    max: float | None


class ProgressPreview(Event, tag="progress_preview"):
    """A preview image sent with a progress update (the server encodes it into a binary frame)."""

    prompt_id: str
    node_id: str
    display_node_id: str
    parent_node_id: str | None
    real_node_id: str
    image: Any


def event_type(event: Event) -> str:
    return event.__struct_config__.tag  # type: ignore[return-value]


def event_data(event: Event) -> dict[str, Any]:
    """The ``data`` of the WebSocket message ``{"type": ..., "data": ...}``."""
    return msgspec.structs.asdict(event)


class EventSink(Protocol):
    """Receives events; ``emit`` is synchronous and safe to call from the executor's thread."""

    def emit(self, event: Event) -> None: ...


class ListSink:
    """Keeps every event in a list (tests, benchmarks, the CLI)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def types(self) -> list[str]:
        return [event_type(e) for e in self.events]
