"""Per-node timings of one prompt, read off its events (for /metrics): a sink that forwards every event and
notes when each node started and finished running, and how many progress updates (sampling steps) it sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from host.executor.events import Event, EventSink, NodeState, Progress


class NodeTiming(msgspec.Struct, array_like=True):
    """One node's run: its class, how long it ran (seconds) and the progress updates it sent."""

    class_type: str
    seconds: float
    steps: int


class TimingSink:
    """Forwards to ``inner``; keeps a :class:`NodeTiming` per node that ran (``records``). Call ``emit`` from
    one thread at a time (the executor's)."""

    def __init__(self, inner: EventSink, prompt: dict[str, Any], clock: Callable[[], float] = time.monotonic):
        self.inner = inner
        self.prompt = prompt
        self.clock = clock
        self.records: list[NodeTiming] = []
        self._started: dict[str, float] = {}
        self._steps: dict[str, int] = {}

    def emit(self, event: Event) -> None:
        if isinstance(event, NodeState):
            self._node_state(event)
        elif isinstance(event, Progress):
            self._steps[event.node] = self._steps.get(event.node, 0) + 1
        self.inner.emit(event)

    def _node_state(self, event: NodeState) -> None:
        if event.state == "running":
            if event.node_id not in self._started:  # progress updates repeat "running"
                self._started[event.node_id] = self.clock()
        elif event.state == "finished" and event.node_id in self._started:
            seconds = self.clock() - self._started.pop(event.node_id)
            steps = self._steps.pop(event.node_id, 0) + self._steps.pop(event.display_node_id, 0)
            self.records.append(NodeTiming(self.class_of(event), seconds, steps))

    def class_of(self, event: NodeState) -> str:
        """The node's class; an ephemeral node (from an expansion) counts under the node that created it."""
        for node_id in (event.node_id, event.real_node_id, event.display_node_id):
            node = self.prompt.get(node_id)
            if isinstance(node, dict) and "class_type" in node:
                return str(node["class_type"])
        return "unknown"


__all__ = ["NodeTiming", "TimingSink"]
