"""The ambient context of a running node (ComfyUI's ExecutionContext): which prompt and node, which call of
the list mapping, and where progress goes. Set by the executor around each node call, read by
``comfy.utils.ProgressBar``, ``ComfyAPI.execution.set_progress`` and friends."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol


class InterruptProcessingException(Exception):  # noqa: N818  (ComfyUI's name, which packs catch)
    """The prompt was interrupted; raised from progress updates and interrupt checks, in the host or a child."""


class ProgressHook(Protocol):
    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        """Report progress of ``node_id``; raises InterruptProcessingException when interrupted.

        ``legacy`` True is a ``ProgressBar`` update (sends ComfyUI's ``progress`` message too), False a
        ``set_progress`` (node state only)."""


@dataclass(frozen=True, slots=True)
class NodeContext:
    prompt_id: str
    node_id: str
    list_index: int
    hook: ProgressHook | None = None
    #: the host's model manager (host.models.manager.ModelManager) for in-process nodes; None in pack children
    models: Any = None


CURRENT_NODE: ContextVar[NodeContext | None] = ContextVar("nodehost_current_node", default=None)


def current_node() -> NodeContext | None:
    return CURRENT_NODE.get()


def interrupt_requested() -> bool:
    """True when the running prompt has been interrupted (a hook without ``interrupt_requested``: False)."""
    ctx = CURRENT_NODE.get()
    check = getattr(ctx.hook, "interrupt_requested", None) if ctx is not None else None
    return bool(check()) if check is not None else False


def report_progress(value: float, max_value: float | None = None, node_id: str | None = None,
                    preview: Any = None, legacy: bool = True) -> None:
    """Progress of the running node (or ``node_id``); a no-op outside execution."""
    ctx = CURRENT_NODE.get()
    if ctx is None or ctx.hook is None:
        return
    ctx.hook.progress(node_id or ctx.node_id, value, max_value, preview, legacy)
