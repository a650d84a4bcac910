"""``comfy_execution.graph`` as node code sees it: ``ExecutionBlocker``, ``DynamicPrompt`` (the read-only view
nodes receive as their ``DYNPROMPT`` hidden input) and ``get_input_info``, plus the exception classes.

The engine's own classes (``ExecutionList``, ``TopologicalSort``) run in the host and are not provided here.
"""

from __future__ import annotations

from typing import Any

from isolate.dynprompt import DynamicPromptView as DynamicPrompt
from isolate.graph_utils import ExecutionBlocker, is_link

__all__ = ["DependencyCycleError", "DynamicPrompt", "ExecutionBlocker", "NodeInputError", "NodeNotFoundError",
           "get_input_info", "is_link"]


class DependencyCycleError(Exception):
    pass


class NodeInputError(Exception):
    pass


class NodeNotFoundError(Exception):
    pass


def get_input_info(class_def: type, input_name: str,
                   valid_inputs: dict[str, Any] | None = None) -> tuple[Any, str | None, dict[str, Any] | None]:
    """(type, section "required"/"optional"/"hidden", options) of one input of a v1 class; all None if absent."""
    valid_inputs = valid_inputs or class_def.INPUT_TYPES()
    for section in ("required", "optional", "hidden"):
        entries = valid_inputs.get(section) or {}
        if input_name in entries:
            info = entries[input_name]
            if isinstance(info, str):  # hidden inputs are plain names
                return info, section, {}
            options = info[1] if len(info) > 1 else {}
            return info[0], section, options
    return None, None, None


def __getattr__(name: str) -> Any:
    if name in ("ExecutionList", "TopologicalSort"):
        raise AttributeError(f"comfy_execution.graph.{name} is the engine's, which runs in the host; it is not "
                             "available inside an isolated node pack")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
