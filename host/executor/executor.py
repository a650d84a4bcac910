"""The executor: runs a validated prompt through node runners, with the CLASSIC cache and events.

Semantics of COMPAT §4.2-§4.5 and §4.9-§4.10: only nodes reachable from the outputs run, ready nodes are
picked as ComfyUI does, every value is a list (list mapping over calls), results are cached by input
signature. Runs on whatever loop calls it (the worker thread's, see worker.py); in-process node bodies run
inline, and only awaitables are awaited. Knows nothing about HTTP.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from typing import Any

import msgspec

from host.executor.cache import CacheEntry, ClassicCache, OutputCache
from host.executor.errors import DependencyCycleError, InterruptProcessingException, exception_type_name
from host.executor.events import (
    Event,
    EventSink,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    event_data,
    event_type,
    now_ms,
)
from host.executor.graph import is_link
from host.executor.runner import NodeRunner
from host.executor.scheduler import ReadyQueue
from host.executor.signature import KeyInterner, compute_keys
from host.executor.validation import ValidatedPrompt, validate_prompt
from host.registry import BoundNode, Registry
from isolate.calls import NodeCall, NodeResult

_PRIMITIVE = (str, int, float, bool, type(None))


class PromptResult(msgspec.Struct):
    """What a prompt produced: status ``success``/``error``/``interrupted``, ui outputs per node, history
    meta, the status messages (``[[event, data], ...]``) and, on failure, the error event's data."""

    prompt_id: str
    status: str
    outputs: dict[str, Any]
    meta: dict[str, Any]
    messages: list[list[Any]]
    executed: list[str]
    error: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"PromptResult({self.prompt_id!r}, {self.status!r}, {len(self.outputs)} outputs)"


class NodeFailed(Exception):
    """A node body raised; carries the node and the inputs it was called with."""

    def __init__(self, node_id: str, class_type: str, inputs: dict[str, list[Any]], cause: BaseException):
        super().__init__(str(cause))
        self.node_id, self.class_type, self.inputs, self.cause = node_id, class_type, inputs, cause


class Executor:
    """One prompt at a time; keeps the output cache and node instances between prompts."""

    def __init__(self, registry: Registry, sink: EventSink, cache: OutputCache | None = None) -> None:
        self.registry = registry
        self.sink = sink
        self.cache: OutputCache = cache if cache is not None else ClassicCache()
        self._interrupt = threading.Event()
        self.interner = KeyInterner()
        self._instances: dict[tuple[str, str], NodeRunner] = {}

    def interrupt(self) -> None:
        """Ask the running prompt to stop before its next node call (thread-safe)."""
        self._interrupt.set()

    async def validate(self, prompt: Any, partial_targets: list[str] | None = None) -> ValidatedPrompt:
        return await validate_prompt(prompt, self.registry, partial_targets)

    async def run(self, prompt: Any, prompt_id: str, extra_data: dict[str, Any] | None = None,
                  partial_targets: list[str] | None = None) -> PromptResult:
        """Validate then execute; raises ValidationFailed when the prompt cannot run at all."""
        validated = await self.validate(prompt, partial_targets)
        return await self.execute(validated, prompt_id, extra_data)

    async def execute(self, validated: ValidatedPrompt, prompt_id: str,
                      extra_data: dict[str, Any] | None = None) -> PromptResult:
        self._interrupt.clear()
        run = _PromptRun(self, validated, prompt_id, extra_data or {})
        return await run.go()

    def drop_stale_instances(self, prompt: dict[str, dict[str, Any]]) -> None:
        """CLASSIC keeps node instances only for the (node id, class) pairs of the current prompt."""
        stale: dict[int, tuple[NodeRunner, list[tuple[str, str]]]] = {}
        for key, runner in list(self._instances.items()):
            node = prompt.get(key[0])
            if node is None or node["class_type"] != key[1]:
                stale.setdefault(id(runner), (runner, []))[1].append(key)
                del self._instances[key]
        for runner, keys in stale.values():
            runner.drop(keys)


class _PromptRun:
    """The state of one prompt's execution."""

    def __init__(self, ex: Executor, validated: ValidatedPrompt, prompt_id: str, extra: dict[str, Any]):
        self.ex = ex
        self.validated = validated
        self.prompt = validated.prompt
        assert validated.graph is not None, "execute() takes the result of validate()"
        self.graph = validated.graph
        self.outputs = validated.outputs
        self.prompt_id = prompt_id
        self.extra = extra
        self.nodes = ex.registry.nodes
        self.messages: list[list[Any]] = []
        self.executed: list[str] = []
        self.ui_outputs: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.values: dict[str, list[list[Any]]] = {}
        self.current = ("", "")

    def emit(self, event: Event, record: bool = False) -> None:
        if record:
            self.messages.append([event_type(event), event_data(event)])
        self.ex.sink.emit(event)

    async def go(self) -> PromptResult:
        self.emit(ExecutionStart(self.prompt_id, now_ms()), record=True)
        self.ex.drop_stale_instances(self.prompt)
        order = self.validated.order
        fingerprints = await self.fingerprints(order)
        self.digests = compute_keys(self.prompt, self.graph, order, self.ex.registry, fingerprints,
                                    self.validated.cyclic, self.ex.interner)
        cache = self.ex.cache
        cache.begin_prompt(self.digests.values())
        self.ex.interner.retain(self.digests.values())
        cached = {nid for nid in order if cache.get(self.digests[nid]) is not None}
        self.emit(ExecutionCached([n for n in self.prompt if n in cached], self.prompt_id, now_ms()), record=True)
        try:
            await self.schedule(cached)
        except InterruptProcessingException:
            return self.interrupted()
        except NodeFailed as failure:
            return self.failed(failure)
        self.emit(ExecutionSuccess(self.prompt_id, now_ms()), record=True)
        return self.result("success")

    async def fingerprints(self, order: list[str]) -> dict[str, Any]:
        """IS_CHANGED / fingerprint_inputs over constant inputs (links as None); an exception gives NaN."""
        result: dict[str, Any] = {}
        for nid in order:
            node = self.prompt[nid]
            if "is_changed" in node:
                result[nid] = node["is_changed"]
                continue
            bound = self.nodes[node["class_type"]]
            if not bound.nodedef.has_fingerprint:
                continue
            kwargs = {k: None if is_link(v) else v for k, v in (node.get("inputs") or {}).items()
                      if k in bound.declared}
            try:
                fp = bound.runner.fingerprint(bound.nodedef.name, kwargs)
                result[nid] = await fp if inspect.isawaitable(fp) else fp
            except Exception:
                result[nid] = float("nan")
        return result

    async def schedule(self, cached: set[str]) -> None:
        queue = ReadyQueue(self.graph, self.needed(cached), self.nodes)
        while queue:
            nid = queue.pick()
            if nid is None:
                stuck = queue.blocked_node()
                raise NodeFailed(stuck, self.prompt[stuck]["class_type"], {},
                                 DependencyCycleError("Dependency cycle detected"))
            if nid in cached or self.ex.cache.get(self.digests[nid]) is not None:
                self.cache_hit(nid)  # cached before the prompt, or an identical node ran earlier in it
            else:
                await self.run_node(nid)
            queue.done(nid)

    def needed(self, cached: set[str]) -> list[str]:
        """The nodes to visit, producers first: outputs, and what they need that is not cached."""
        outputs = set(self.outputs)
        needed = set(outputs)
        for nid in reversed(self.validated.order):
            if nid in needed and nid not in cached:
                needed.update(link[1] for link in self.graph.links(nid))
        return [n for n in self.validated.order if n in needed and (n not in cached or n in outputs)]

    def cache_hit(self, nid: str) -> None:
        entry = self.ex.cache.get(self.digests[nid])
        assert entry is not None
        self.executed.append(nid)
        if entry.ui is not None:
            self.record_ui(nid, entry.ui)

    def record_ui(self, nid: str, ui: dict[str, Any]) -> None:
        self.ui_outputs[nid] = ui
        self.meta[nid] = {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}
        self.emit(Executed(nid, nid, ui, self.prompt_id))

    def slot_values(self, src: str, slot: int) -> list[Any]:
        vals = self.values.get(src)
        if vals is None:
            entry = self.ex.cache.get(self.digests[src]) if src in self.digests else None
            if entry is None:
                raise KeyError(f"node '{src}' has no computed outputs (is it in the prompt?)")
            vals = self.values[src] = entry.values
        return vals[slot]

    def gather(self, nid: str, bound: BoundNode) -> dict[str, list[Any]]:
        """Every input as a list of values: links from the producers' outputs, constants wrapped."""
        gathered: dict[str, list[Any]] = {}
        slots = bound.exec_slots
        for name, val in (self.prompt[nid].get("inputs") or {}).items():
            slot = slots.get(name)
            if is_link(val):
                gathered[name] = [val] if slot is not None and slot.raw_link else self.slot_values(val[0], int(val[1]))
            elif slot is not None:
                gathered[name] = [val]
        return gathered

    def hidden(self, nid: str, bound: BoundNode) -> dict[str, Any]:
        found = {"PROMPT": self.prompt, "UNIQUE_ID": nid, "EXTRA_PNGINFO": self.extra.get("extra_pnginfo"),
                 "AUTH_TOKEN_COMFY_ORG": self.extra.get("auth_token_comfy_org"),
                 "API_KEY_COMFY_ORG": self.extra.get("api_key_comfy_org")}
        return {kind: found.get(kind) for kind in bound.hidden_kinds}

    async def run_node(self, nid: str) -> None:
        class_type = self.prompt[nid]["class_type"]
        bound = self.nodes[class_type]
        self.current = (nid, class_type)
        self.emit(Executing(nid, nid, self.prompt_id))
        inputs: dict[str, list[Any]] = {}
        try:
            inputs = self.gather(nid, bound)
            hidden = self.hidden(nid, bound) if bound.hidden_kinds else {}
            results = []
            for index, call_inputs in enumerate(map_calls(inputs, bound.nodedef.input_is_list)):
                if self.ex._interrupt.is_set():
                    raise InterruptProcessingException()
                if bound.nodedef.api == "v1":  # v3 nodes are stateless: no instance to keep
                    self.ex._instances[(nid, class_type)] = bound.runner
                out = bound.runner.execute(NodeCall(self.prompt_id, nid, class_type, index, call_inputs, hidden))
                results.append(await out if inspect.isawaitable(out) else out)
        except InterruptProcessingException:
            raise
        except Exception as exc:
            raise NodeFailed(nid, class_type, inputs, exc) from exc
        entry = merge_results(results, bound)
        self.values[nid] = entry.values
        self.ex.cache.set(self.digests[nid], entry)
        self.executed.append(nid)
        if entry.ui is not None:
            self.record_ui(nid, entry.ui)

    def failed(self, failure: NodeFailed) -> PromptResult:
        exc = failure.cause
        event = ExecutionError(
            prompt_id=self.prompt_id, node_id=failure.node_id, node_type=failure.class_type,
            executed=list(self.executed), exception_message=str(exc), exception_type=exception_type_name(exc),
            traceback=traceback.format_tb(exc.__traceback__),
            current_inputs={k: [v if isinstance(v, _PRIMITIVE) else str(v) for v in vals]
                            for k, vals in failure.inputs.items()},
            current_outputs=list(self.values), timestamp=now_ms())
        self.emit(event, record=True)
        return self.result("error", event_data(event))

    def interrupted(self) -> PromptResult:
        nid, class_type = self.current
        event = ExecutionInterrupted(self.prompt_id, nid, class_type, list(self.executed), now_ms())
        self.emit(event, record=True)
        return self.result("interrupted", event_data(event))

    def result(self, status: str, error: dict[str, Any] | None = None) -> PromptResult:
        return PromptResult(self.prompt_id, status, self.ui_outputs, self.meta, self.messages, self.executed, error)


def map_calls(inputs: dict[str, list[Any]], input_is_list: bool) -> list[dict[str, Any]]:
    """List mapping (COMPAT §4.4): whole lists in one call, or one call per element of the longest input
    list, shorter lists repeating their last element; an empty input list means no call."""
    if input_is_list:
        return [inputs]
    if not inputs:
        return [{}]
    lengths = [len(v) for v in inputs.values()]
    n = max(lengths)
    if n == 1:
        return [{k: v[0] for k, v in inputs.items()}]
    if min(lengths) == 0:
        return []
    return [{k: v[i] if i < len(v) else v[-1] for k, v in inputs.items()} for i in range(n)]


def merge_results(results: list[NodeResult], bound: BoundNode) -> CacheEntry:
    """Per output slot, the values of every call (list outputs concatenated); ui dicts merged key-wise."""
    outputs = bound.nodedef.outputs
    values: list[list[Any]] = [[] for _ in outputs]
    for res in results:
        for i, out in enumerate(outputs):
            if out.is_list:
                values[i].extend(res.values[i])
            else:
                values[i].append(res.values[i])
    uis = [r.ui for r in results if r.ui is not None]
    ui = None
    if uis:
        ui = {k: [x for u in uis for x in (u.get(k) or [])] for k in uis[0]} if len(uis) > 1 else uis[0]
    return CacheEntry(values, ui)
