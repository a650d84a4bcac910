"""How a prompt ends: the typed result, and the error / interrupted events (COMPAT §2.3 fields)."""

from __future__ import annotations

import traceback
from typing import Any

from host.executor.errors import NodeFailed, exception_type_name
from host.executor.events import ExecutionError, ExecutionInterrupted, event_data, now_ms
from host.executor.prompt_result import PromptResult
from host.executor.state import RunState

_PRIMITIVE = (str, int, float, bool, type(None))


def failed(run: RunState, failure: NodeFailed) -> PromptResult:
    """``execution_error`` naming the real node (an ephemeral node's top-level ancestor); a node that failed in
    a pack's child keeps the child's exception type and traceback."""
    exc = failure.cause
    inputs = failure.inputs if isinstance(failure.inputs, dict) else {}
    lines = getattr(exc, "traceback_lines", None) or traceback.format_tb(exc.__traceback__)
    event = ExecutionError(
        prompt_id=run.prompt_id, node_id=run.dyn.real_id(failure.node_id), node_type=failure.class_type,
        executed=list(run.executed), exception_message=str(exc), exception_type=exception_type_name(exc),
        traceback=list(lines),
        current_inputs={k: [v if isinstance(v, _PRIMITIVE) else str(v) for v in vals] for k, vals in inputs.items()},
        current_outputs=list(run.values), timestamp=now_ms())
    run.emit(event, record=True)
    return result(run, "error", event_data(event))


def interrupted(run: RunState) -> PromptResult:
    nid, class_type = run.current
    event = ExecutionInterrupted(run.prompt_id, run.dyn.real_id(nid) if nid else nid, class_type,
                                 list(run.executed), now_ms())
    run.emit(event, record=True)
    return result(run, "interrupted", event_data(event))


def result(run: RunState, status: str, error: dict[str, Any] | None = None) -> PromptResult:
    return PromptResult(run.prompt_id, status, run.ui_outputs, run.meta, run.messages, run.executed, error)
