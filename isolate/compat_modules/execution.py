"""ComfyUI's ``execution`` module in a pack child: the names packs read. The executor itself runs in the host
process: replacing these functions (as some packs do at import to hook execution) changes nothing there,
and is reported once per pack (isolate/patch_watch.py)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ExecutionResult(Enum):
    SUCCESS = 0
    FAILURE = 1
    PENDING = 2


class PromptExecutor:
    """Not available in a pack: prompts run in the host."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from isolate.standins import NotProvidedError

        raise NotProvidedError("execution.PromptExecutor: prompts run in the nodehost host, not in a pack")


class PromptQueue:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from isolate.standins import NotProvidedError

        raise NotProvidedError("execution.PromptQueue: the queue lives in the nodehost host")


def _host_only(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        from isolate.standins import NotProvidedError

        raise NotProvidedError(f"execution.{name}: the executor runs in the nodehost host, not in a pack")
    fn.__name__ = fn.__qualname__ = name
    return fn


validate_prompt = _host_only("validate_prompt")
validate_inputs = _host_only("validate_inputs")
get_input_data = _host_only("get_input_data")
get_output_data = _host_only("get_output_data")
execute = _host_only("execute")
recursive_will_execute = _host_only("recursive_will_execute")
full_type_name = _host_only("full_type_name")


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
