"""One prompt's execution (COMPAT §4.2-§4.11): visit ready nodes, lazy re-staging, async nodes running
concurrently, node expansion, ExecutionBlocker, cache hits, progress, errors and interrupt."""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from host.executor import outcome
from host.executor.caches import CacheEntry
from host.executor.dynprompt import DynamicPrompt
from host.executor.errors import DependencyCycleError, InterruptProcessingException, NodeFailed, NodeNotFoundError
from host.executor.events import (
    Event,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionStart,
    ExecutionSuccess,
    NodeState,
    Progress,
    ProgressPreview,
    event_data,
    event_type,
    now_ms,
)
from host.executor.expansion import expand
from host.executor.graph import is_link, unwrap_constant
from host.executor.results import blocked_result, find_blocker, map_calls, merge_results, resolve_expanded
from host.executor.scheduler import ExecutionList
from host.executor.signature import compute_keys
from host.executor.validation import ValidatedPrompt
from host.registry import BoundNode
from isolate.calls import NodeCall, NodeResult
from isolate.context import CURRENT_NODE, NodeContext
from isolate.graph_utils import ExecutionBlocker

if TYPE_CHECKING:
    from host.executor.prompt_result import PromptResult
    from host.executor.state import ExecutorState



class PromptRun:
    """The state of one prompt's execution; also the progress hook node code reports to."""

    def __init__(self, ex: ExecutorState, validated: ValidatedPrompt, prompt_id: str, extra: dict[str, Any]):
        assert validated.graph is not None, "execute() takes the result of validate()"
        self.ex = ex
        self.validated = validated
        self.prompt = validated.prompt
        self.outputs = validated.outputs
        self.prompt_id = prompt_id
        self.extra = extra
        self.nodes = ex.registry.nodes
        self.cache = ex.cache
        self.dyn = DynamicPrompt(validated.prompt)
        self.graph = validated.graph.fork(self.dyn.nodes)
        self.keys: dict[str, int] = {}
        self.messages: list[list[Any]] = []
        self.executed: list[str] = []
        self.ui_outputs: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.values: dict[str, list[list[Any]]] = {}
        self.pending_subgraph: dict[str, list[NodeResult]] = {}
        self.pending_async: dict[str, list[Any]] = {}
        self.current = ("", "")

    # -- events -----------------------------------------------------------------------------------------
    def emit(self, event: Event, record: bool = False) -> None:
        if record:
            self.messages.append([event_type(event), event_data(event)])
        self.ex.sink.emit(event)

    def node_state(self, nid: str, state: str, value: float = 0.0, max_value: float | None = 1.0) -> None:
        dyn = self.dyn
        self.emit(NodeState(self.prompt_id, nid, dyn.display_id(nid), dyn.parent_id(nid), dyn.real_id(nid),
                            state, value, max_value))

    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        """The progress hook (isolate.context.ProgressHook) of this run."""
        if self.ex.interrupt_flag.is_set():
            raise InterruptProcessingException()
        if legacy:
            self.emit(Progress(value, max_value, self.prompt_id, node_id))
        self.node_state(node_id, "running", value, max_value)
        if preview is not None:
            dyn = self.dyn
            self.emit(ProgressPreview(self.prompt_id, node_id, dyn.display_id(node_id), dyn.parent_id(node_id),
                                      dyn.real_id(node_id), preview))

    def interrupt_requested(self) -> bool:
        """Whether this run was interrupted (node code checks it between steps)."""
        return self.ex.interrupt_flag.is_set()

    # -- the prompt -------------------------------------------------------------------------------------
    async def go(self) -> PromptResult:
        self.emit(ExecutionStart(self.prompt_id, now_ms()), record=True)
        missing = self.missing_node()
        if missing is not None:
            return self.failed(missing)
        self.ex.drop_stale_instances(self.prompt)
        order = self.validated.order
        fingerprints = await self.fingerprints(order)
        compute_keys(self.dyn.nodes, order, self.ex.registry, fingerprints, self.validated.cyclic,
                     self.ex.interner, self.keys)
        retained = self.ex.retained_keys(self.prompt, self.keys)
        self.cache.begin_prompt(retained)
        self.ex.interner.retain([*retained, *self.cache.keys()])  # LRU / RAM caches keep older entries too
        cache = self.cache
        cached = [n for n in self.prompt if n in self.keys and cache.get(self.keys[n]) is not None]
        self.emit(ExecutionCached(cached, self.prompt_id, now_ms()), record=True)
        try:
            await self.schedule()
        except InterruptProcessingException:
            return self.interrupted()
        except NodeFailed as failure:
            return self.failed(failure)
        finally:
            self.abandon_tasks()
            if not self.cache.keeps_instances:
                self.ex.drop_all_instances()
            self.release()
        self.emit(ExecutionSuccess(self.prompt_id, now_ms()), record=True)
        return self.result("success")

    def missing_node(self) -> NodeFailed | None:
        """The first node to run whose class is gone from the registry since the prompt was validated."""
        for nid in self.validated.order:
            class_type = self.dyn.nodes[nid]["class_type"]
            if class_type not in self.nodes:
                return NodeFailed(nid, class_type, {}, NodeNotFoundError(class_type))
        return None

    async def fingerprints(self, order: list[str]) -> dict[str, Any]:
        """IS_CHANGED / fingerprint_inputs over constant inputs (links as None); an exception gives NaN."""
        result: dict[str, Any] = {}
        nodes = self.dyn.nodes
        for nid in order:
            node = nodes[nid]
            if "is_changed" in node:
                result[nid] = node["is_changed"]
                continue
            bound = self.nodes[node["class_type"]]
            if not bound.nodedef.has_fingerprint:
                continue
            inputs = node.get("inputs") or {}
            declared = bound.view(inputs).declared if bound.dynamic else bound.declared
            kwargs = {k: None if is_link(v) else v for k, v in inputs.items()
                      if k in declared or bound.nodedef.accepts_any_input}
            try:
                fp = bound.runner.fingerprint(bound.nodedef.name, kwargs)
                result[nid] = await fp if inspect.isawaitable(fp) else fp
            except Exception:
                result[nid] = float("nan")
        return result

    def available(self, nid: str) -> bool:
        if nid in self.values:
            return True
        key = self.keys.get(nid)
        return key is not None and self.cache.get(key) is not None

    async def schedule(self) -> None:
        xl = self.xl = ExecutionList(self.graph, self.nodes, self.available)
        for out in self.outputs:
            xl.add_node(out)
        while xl:
            nid = xl.pick()
            if nid is None:
                if xl.external:
                    await xl.unblocked.wait()
                    xl.unblocked.clear()
                    continue
                self.cycle_error(xl.cycle_nodes())
            try:
                done = await self.visit(nid)
            except (NodeFailed, InterruptProcessingException):
                raise
            except Exception as exc:
                raise NodeFailed(nid, self.dyn.nodes[nid]["class_type"], {}, exc) from exc
            if done:
                xl.complete(nid)
            else:
                xl.unstage(nid)
            self.cache.after_node()

    def cycle_error(self, cycle: list[str]) -> None:
        blamed = cycle[0] if cycle else next(iter(self.xl.pending))
        for nid in cycle:
            if self.dyn.display_id(nid) != nid:
                blamed = self.dyn.display_id(nid)
                break
        raise NodeFailed(blamed, self.dyn.nodes[blamed]["class_type"], {},
                         DependencyCycleError("Dependency cycle detected"))

    # -- one node ---------------------------------------------------------------------------------------
    async def visit(self, nid: str) -> bool:
        """True when the node is done, False when it waits (lazy inputs, expansion, async calls)."""
        if nid in self.pending_subgraph:
            return self.finish_expanded(nid)
        if nid in self.pending_async:
            return await self.finish(nid, self.collect_async(nid))
        entry = self.cache.get(self.keys[nid])
        if entry is not None:  # cached before the prompt, or an identical node ran earlier in it
            self.cache_hit(nid, entry)
            return True
        node = self.dyn.nodes[nid]
        class_type = node["class_type"]
        bound = self.nodes[class_type]
        self.current = (nid, class_type)
        self.node_state(nid, "running")
        self.emit(Executing(nid, self.dyn.display_id(nid), self.prompt_id))
        inputs: dict[str, list[Any]] = {}
        try:
            inputs, missing = self.gather(nid, bound)
            calls = map_calls(inputs, bound.nodedef.input_is_list)
            hidden = self.hidden(nid, bound) if bound.hidden_kinds else {}
            if bound.nodedef.has_check_lazy and await self.wants_more(nid, bound, calls, hidden, missing):
                return False
            results = self.call(nid, bound, calls, hidden)
        except InterruptProcessingException:
            raise
        except Exception as exc:
            raise NodeFailed(nid, class_type, inputs, exc) from exc
        if any(isinstance(r, asyncio.Task) for r in results):
            await asyncio.sleep(0)
            if not all(r.done() for r in results if isinstance(r, asyncio.Task)):
                self.wait_async(nid, results)
                return False
            self.pending_async[nid] = results
            results = self.collect_async(nid)
        return await self.finish(nid, results)

    def gather(self, nid: str, bound: BoundNode) -> tuple[dict[str, list[Any]], list[str]]:
        """Every input as a list of values; unevaluated lazy links give None and are listed as missing."""
        gathered: dict[str, list[Any]] = {}
        missing: list[str] = []
        inputs = self.dyn.nodes[nid].get("inputs") or {}
        slots = bound.view(inputs).exec_slots if bound.dynamic else bound.exec_slots
        for name, val in inputs.items():
            slot = slots.get(name)
            if type(val) is list and is_link(val):
                if slot is not None and slot.raw_link:
                    gathered[name] = [val]
                elif self.available(val[0]):
                    gathered[name] = self.slot_values(val[0], int(val[1]))
                elif slot is not None and slot.lazy:
                    gathered[name] = [None]
                    missing.append(name)
                else:
                    raise KeyError(f"input {name!r} links to node {val[0]!r}, which has no outputs")
            elif slot is not None or bound.nodedef.accepts_any_input:
                gathered[name] = [unwrap_constant(val)]
        return gathered, missing

    def slot_values(self, src: str, slot: int) -> list[Any]:
        vals = self.values.get(src)
        if vals is None:
            entry = self.cache.get(self.keys[src]) if src in self.keys else None
            if entry is None:
                raise KeyError(f"node '{src}' has no computed outputs")
            vals = self.values[src] = entry.values
        return vals[slot]

    def hidden(self, nid: str, bound: BoundNode) -> dict[str, Any]:
        found = {"PROMPT": self.prompt, "UNIQUE_ID": nid, "DYNPROMPT": self.dyn.data,
                 "EXTRA_PNGINFO": self.extra.get("extra_pnginfo"),
                 "AUTH_TOKEN_COMFY_ORG": self.extra.get("auth_token_comfy_org"),
                 "API_KEY_COMFY_ORG": self.extra.get("api_key_comfy_org")}
        return {kind: found.get(kind) for kind in bound.hidden_kinds}

    async def wants_more(self, nid: str, bound: BoundNode, calls: list[dict[str, Any]], hidden: dict[str, Any],
                         missing: list[str]) -> bool:
        """check_lazy_status (COMPAT §4.6): strong-link the lazy inputs it asks for that are not evaluated
        yet; True when the node must wait for them."""
        inputs = self.dyn.nodes[nid].get("inputs") or {}
        wanted: list[str] = []
        for index, call in enumerate(calls):
            token = CURRENT_NODE.set(NodeContext(self.prompt_id, nid, index, self, self.ex.models))
            try:
                names = bound.runner.check_lazy(NodeCall(self.prompt_id, nid, bound.nodedef.name, index, call,
                                                         hidden))
                names = await names if inspect.isawaitable(names) else names
            finally:
                CURRENT_NODE.reset(token)
            wanted += [n for n in names or () if isinstance(n, str)]
        unknown = sorted({n for n in wanted if n not in inputs})
        if unknown:
            raise ValueError(f"check_lazy_status of node {nid} asked for inputs it does not have: {unknown}")
        new = [n for n in dict.fromkeys(wanted) if n in missing]
        for name in new:
            self.xl.add_strong_link(inputs[name][0], int(inputs[name][1]), nid)
        return bool(new)

    def call(self, nid: str, bound: BoundNode, calls: list[dict[str, Any]], hidden: dict[str, Any]) -> list[Any]:
        """Run the node body once per call; async bodies become tasks (in the list in their place)."""
        nd = bound.nodedef
        results: list[Any] = []
        for index, call in enumerate(calls):
            if self.ex.interrupt_flag.is_set():
                raise InterruptProcessingException()
            blocker = find_blocker(call, nd.input_is_list)
            if blocker is not None:
                results.append(blocked_result(self.blocked(nid, blocker), nd))
                continue
            if nd.api == "v1":  # v3 nodes are stateless: no instance to keep
                self.ex.instances[(nid, nd.name)] = bound.runner
            token = CURRENT_NODE.set(NodeContext(self.prompt_id, nid, index, self, self.ex.models))
            try:
                out = bound.runner.execute(NodeCall(self.prompt_id, nid, nd.name, index, call, hidden))
                if inspect.isawaitable(out):
                    out = asyncio.ensure_future(out)
            finally:
                CURRENT_NODE.reset(token)
            results.append(out)
        return results

    def blocked(self, nid: str, blocker: ExecutionBlocker) -> ExecutionBlocker:
        """A blocker with a message is reported once, as ComfyUI does, then flows on silently."""
        if blocker.message is None:
            return blocker
        self.emit(ExecutionError(
            prompt_id=self.prompt_id, node_id=self.dyn.real_id(nid), node_type=self.dyn.nodes[nid]["class_type"],
            executed=list(self.executed), exception_message=f"Execution Blocked: {blocker.message}",
            exception_type="ExecutionBlocked", traceback=[], current_inputs=[], current_outputs=[],
            timestamp=now_ms()))
        return ExecutionBlocker(None)

    def abandon_tasks(self) -> None:
        """When the prompt ends early, async calls still running are cancelled and finished ones read."""
        for results in self.pending_async.values():
            for task in results:
                if isinstance(task, asyncio.Task):
                    if task.done():
                        if not task.cancelled():
                            task.exception()
                    else:
                        task.cancel()
        self.pending_async.clear()

    def release(self) -> None:
        """Drop what the prompt computed once it ends, so reference counting frees its tensors at once: the
        execution list holds ``self.available`` (a cycle through this run), and ``values`` every output."""
        self.xl = None  # type: ignore[assignment]
        self.values.clear()
        self.pending_subgraph.clear()

    def wait_async(self, nid: str, results: list[Any]) -> None:
        tasks = [r for r in results if isinstance(r, asyncio.Task) and not r.done()]
        unblock = self.xl.add_external_block(nid)
        remaining = [len(tasks)]

        def one_done(_: asyncio.Task) -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                unblock()

        for task in tasks:
            task.add_done_callback(one_done)
        self.pending_async[nid] = results

    def collect_async(self, nid: str) -> list[NodeResult]:
        results = self.pending_async.pop(nid)
        try:
            return [r.result() if isinstance(r, asyncio.Task) else r for r in results]
        except InterruptProcessingException:
            raise
        except Exception as exc:
            raise NodeFailed(nid, self.dyn.nodes[nid]["class_type"], {}, exc) from exc

    async def finish(self, nid: str, results: list[NodeResult]) -> bool:
        bound = self.nodes[self.dyn.nodes[nid]["class_type"]]
        if any(r.expand is not None for r in results):
            await expand(self, nid, bound, results)
            self.pending_subgraph[nid] = results
            return False
        self.store(nid, merge_results(results, bound.nodedef))
        return True

    def finish_expanded(self, nid: str) -> bool:
        bound = self.nodes[self.dyn.nodes[nid]["class_type"]]
        self.store(nid, resolve_expanded(self.pending_subgraph.pop(nid), bound.nodedef, self.slot_values))
        return True

    def store(self, nid: str, entry: CacheEntry) -> None:
        self.values[nid] = entry.values
        self.cache.set(self.keys[nid], entry)
        self.executed.append(nid)
        if entry.ui is not None:
            self.record_ui(nid, entry.ui)
        self.node_state(nid, "finished", 1.0, 1.0)

    def cache_hit(self, nid: str, entry: CacheEntry) -> None:
        self.values[nid] = entry.values
        self.executed.append(nid)
        if entry.ui is not None:
            self.record_ui(nid, entry.ui)
        self.node_state(nid, "finished", 1.0, 1.0)

    def record_ui(self, nid: str, ui: dict[str, Any]) -> None:
        dyn = self.dyn
        display = dyn.display_id(nid)
        self.ui_outputs[nid] = ui
        self.meta[nid] = {"node_id": nid, "display_node": display, "parent_node": dyn.parent_id(nid),
                          "real_node_id": dyn.real_id(nid)}
        self.emit(Executed(nid, display, ui, self.prompt_id))

    # -- endings (outcome.py) -------------------------------------------------------------------------
    def failed(self, failure: NodeFailed) -> PromptResult:
        return outcome.failed(self, failure)

    def interrupted(self) -> PromptResult:
        return outcome.interrupted(self)

    def result(self, status: str, error: dict[str, Any] | None = None) -> PromptResult:
        return outcome.result(self, status, error)

