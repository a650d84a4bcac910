"""The executor: runs a validated prompt through node runners (COMPAT §4), with caches and events.

Runs on whatever loop calls it (the worker thread's, see worker.py); in-process node bodies run inline and
only awaitables are awaited. Knows nothing about HTTP. The per-prompt state machine lives in run.py.
"""

from __future__ import annotations

import threading
from typing import Any

from host.executor.caches import ClassicCache, OutputCache
from host.executor.events import EventSink
from host.executor.prompt_result import PromptResult
from host.executor.run import PromptRun
from host.executor.runner import NodeRunner
from host.executor.signature import KeyInterner
from host.executor.validation import ValidatedPrompt, validate_prompt
from host.registry import Registry

__all__ = ["Executor", "PromptResult"]


class Executor:
    """One prompt at a time; keeps the output cache, cache keys and node instances between prompts."""

    def __init__(self, registry: Registry, sink: EventSink, cache: OutputCache | None = None,
                 models: Any = None) -> None:
        self.registry = registry
        #: the host's ModelManager (host.models.manager), passed to nodes through their NodeContext
        self.models = models
        self.sink = sink
        self.cache: OutputCache = cache if cache is not None else ClassicCache()
        self.interner = KeyInterner()
        self.interrupt_flag = threading.Event()
        self.running_prompt: str | None = None
        #: a prompt interrupted by id after it was handed over but before it started here
        self.interrupt_next: str | None = None
        #: (node id, class_type) -> runner holding that node's instance
        self.instances: dict[tuple[str, str], NodeRunner] = {}
        #: (top-level node id, class_type) -> cache keys of the ephemeral nodes its expansions created
        self.subcaches: dict[tuple[str, str], set[int]] = {}

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Stop the running prompt at its next node call or progress update (thread-safe). With a
        ``prompt_id``, only if that prompt is the one running. Returns whether the flag was set."""
        if prompt_id is not None and prompt_id != self.running_prompt:
            self.interrupt_next = prompt_id  # taken by execute() if that prompt is the next one
            return False
        self.interrupt_flag.set()
        for runner in {id(b.runner): b.runner for b in self.registry.nodes.values()}.values():
            interrupt = getattr(runner, "interrupt", None)  # runners whose nodes run elsewhere (a child)
            if interrupt is not None and self.running_prompt is not None:
                interrupt()
        return True

    async def validate(self, prompt: Any, partial_targets: list[str] | None = None) -> ValidatedPrompt:
        return await validate_prompt(prompt, self.registry, partial_targets)

    async def run(self, prompt: Any, prompt_id: str, extra_data: dict[str, Any] | None = None,
                  partial_targets: list[str] | None = None) -> PromptResult:
        """Validate then execute; raises ValidationFailed when the prompt cannot run at all."""
        validated = await self.validate(prompt, partial_targets)
        return await self.execute(validated, prompt_id, extra_data)

    async def execute(self, validated: ValidatedPrompt, prompt_id: str,
                      extra_data: dict[str, Any] | None = None) -> PromptResult:
        self.interrupt_flag.clear()
        if self.interrupt_next == prompt_id:
            self.interrupt_flag.set()
        self.interrupt_next = None
        self.running_prompt = prompt_id
        try:
            return await PromptRun(self, validated, prompt_id, extra_data or {}).go()
        finally:
            self.running_prompt = None

    def drop_stale_instances(self, prompt: dict[str, dict[str, Any]]) -> None:
        """Node instances are kept only for the (node id, class) pairs of the current prompt."""
        stale: dict[int, tuple[NodeRunner, list[tuple[str, str]]]] = {}
        for key, runner in list(self.instances.items()):
            node = prompt.get(key[0])
            if node is None or node["class_type"] != key[1]:
                stale.setdefault(id(runner), (runner, []))[1].append(key)
                del self.instances[key]
        for runner, keys in stale.values():
            runner.drop(keys)

    def drop_all_instances(self) -> None:
        by_runner: dict[int, tuple[NodeRunner, list[tuple[str, str]]]] = {}
        for key, runner in self.instances.items():
            by_runner.setdefault(id(runner), (runner, []))[1].append(key)
        self.instances.clear()
        for runner, keys in by_runner.values():
            runner.drop(keys)

    def retained_keys(self, prompt: dict[str, dict[str, Any]], keys: dict[str, int]) -> list[int]:
        """The cache keys a prompt can use: its nodes' and the sub-caches of its expanding nodes."""
        retained = list(keys.values())
        for owner in list(self.subcaches):
            node = prompt.get(owner[0])
            if node is not None and node["class_type"] == owner[1]:
                retained.extend(self.subcaches[owner])
            else:
                del self.subcaches[owner]
        return retained
