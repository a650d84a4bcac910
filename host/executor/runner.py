"""The one interface the executor uses for every node, wherever it runs."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from isolate.calls import NodeCall, NodeResult


class NodeRunner(Protocol):
    """Runs nodes of some origin (in-process classes, an extension child).

    Every method may return its value or an awaitable of it; the executor awaits only awaitables.
    """

    def validate(self, class_type: str, kwargs: dict[str, Any]) -> Any | Awaitable[Any]:
        """VALIDATE_INPUTS / validate_inputs: True, or a message saying what is wrong."""

    def fingerprint(self, class_type: str, kwargs: dict[str, Any]) -> Any | Awaitable[Any]:
        """IS_CHANGED / fingerprint_inputs over the node's constant inputs."""

    def check_lazy(self, call: NodeCall) -> list[str] | Awaitable[list[str]]:
        """check_lazy_status: names of lazy inputs the node needs evaluated."""

    def execute(self, call: NodeCall) -> NodeResult | Awaitable[NodeResult]:
        """One call of the node body."""

    def drop(self, keys: list[tuple[str, str]] | None = None) -> None:
        """Forget node instances: the given (node id, class_type) keys, or all of them."""

    # A runner whose nodes run in another process may also define ``interrupt()`` (thread-safe): the executor
    # calls it when the running prompt is interrupted, so code running there stops at its next check.
