"""What the per-prompt helpers see of the executor and of a running prompt, as Protocols.

run.py's ``PromptRun`` satisfies ``RunState`` and ``Executor`` satisfies ``ExecutorState``; expansion.py and
outcome.py are written against these, so no module of the executor imports back the one that calls it.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from host.executor.caches import OutputCache
from host.executor.dynprompt import DynamicPrompt
from host.executor.events import Event, EventSink
from host.executor.graph import PromptGraph
from host.executor.runner import NodeRunner
from host.executor.scheduler import ExecutionList
from host.executor.signature import KeyInterner
from host.registry import BoundNode, Registry


class ExecutorState(Protocol):
    """The executor's state that outlives one prompt: cache, cache keys, node instances, the interrupt flag."""

    registry: Registry
    sink: EventSink
    cache: OutputCache
    interner: KeyInterner
    interrupt_flag: threading.Event
    instances: dict[tuple[str, str], NodeRunner]
    subcaches: dict[tuple[str, str], set[int]]
    #: the host's model manager, handed to nodes through their NodeContext (None: no model nodes can run)
    models: Any

    def drop_stale_instances(self, prompt: dict[str, dict[str, Any]]) -> None: ...

    def drop_all_instances(self) -> None: ...

    def retained_keys(self, prompt: dict[str, dict[str, Any]], keys: dict[str, int]) -> list[int]: ...


class RunState(Protocol):
    """One prompt being executed."""

    ex: ExecutorState
    prompt_id: str
    nodes: dict[str, BoundNode]
    dyn: DynamicPrompt
    graph: PromptGraph
    xl: ExecutionList
    keys: dict[str, int]
    messages: list[list[Any]]
    executed: list[str]
    ui_outputs: dict[str, Any]
    meta: dict[str, Any]
    values: dict[str, list[list[Any]]]
    current: tuple[str, str]

    def emit(self, event: Event, record: bool = False) -> None: ...

    async def fingerprints(self, order: list[str]) -> dict[str, Any]: ...
