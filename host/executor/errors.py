"""Named errors of validation and execution, and the error Structs of ComfyUI's 400 shapes (COMPAT §3.3)."""

from __future__ import annotations

from typing import Any

import msgspec

from isolate.context import InterruptProcessingException

__all__ = ["DependencyCycleError", "InterruptProcessingException", "NodeErrors", "NodeNotFoundError", "PromptError",
           "ValidationFailed", "exception_type_name"]


class PromptError(msgspec.Struct):
    """``{"type", "message", "details", "extra_info"}``."""

    type: str
    message: str
    details: str = ""
    extra_info: dict[str, Any] = {}

    def line(self) -> str:
        return f"{self.message}: {self.details}" if self.details else self.message


class NodeErrors(msgspec.Struct):
    errors: list[PromptError]
    dependent_outputs: list[str]
    class_type: str


class ValidationFailed(Exception):
    """The prompt cannot run: carries the top-level error and per-node errors (the 400 body)."""

    def __init__(self, error: PromptError, node_errors: dict[str, NodeErrors] | None = None) -> None:
        super().__init__(error.line())
        self.error = error
        self.node_errors = node_errors or {}

    def body(self) -> dict[str, Any]:
        return {"error": msgspec.to_builtins(self.error), "node_errors": msgspec.to_builtins(self.node_errors)}



class DependencyCycleError(Exception):
    """No node can run but some are still waiting: a cycle (reported as ``graph.DependencyCycleError``)."""

    exception_type = "graph.DependencyCycleError"


class NodeNotFoundError(LookupError):
    """A node of a validated prompt whose class is not there when it runs: its pack failed to load, or was
    edited (``--watch-packs``) after the prompt was validated. Fails the prompt with an ``execution_error`` naming
    the node and its class, as any node failure does."""

    exception_type = "NodeNotFoundError"

    def __init__(self, class_type: str, reason: str = "") -> None:
        why = f": {reason}" if reason else (": the node pack that defined it failed to load or no longer defines it "
                                            "(it did when the prompt was validated)")
        super().__init__(f"Cannot execute because node {class_type} does not exist{why}")
        self.class_type = class_type


def exception_type_name(exc: BaseException) -> str:
    """``module.QualName`` of an exception class, builtins bare (COMPAT §4.10)."""
    if isinstance(exc, InterruptProcessingException):
        return "comfy.model_management.InterruptProcessingException"
    name = getattr(exc, "exception_type", None)
    if isinstance(name, str):
        return name
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class NodeFailed(Exception):
    """A node failed; carries the node and the inputs it was called with."""

    def __init__(self, node_id: str, class_type: str, inputs: Any, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.node_id, self.class_type, self.inputs, self.cause = node_id, class_type, inputs, cause
