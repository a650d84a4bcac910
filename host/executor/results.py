"""List mapping over calls and merging of call results (COMPAT §4.4, §4.5, §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from host.executor.caches import CacheEntry
from host.executor.graph import is_link
from isolate.calls import NodeResult
from isolate.graph_utils import ExecutionBlocker
from isolate.nodedef import NodeDef


def map_calls(inputs: dict[str, list[Any]], input_is_list: bool) -> list[dict[str, Any]]:
    """Whole lists in one call, or one call per element of the longest input list, shorter lists repeating
    their last element; an empty input list means no call."""
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


def find_blocker(call: dict[str, Any], input_is_list: bool) -> ExecutionBlocker | None:
    """The first ExecutionBlocker among a call's inputs (inside the lists for INPUT_IS_LIST nodes)."""
    for value in call.values():
        if isinstance(value, ExecutionBlocker):
            return value
        if input_is_list and isinstance(value, list):
            for item in value:
                if isinstance(item, ExecutionBlocker):
                    return item
    return None


def blocked_result(blocker: ExecutionBlocker, nd: NodeDef) -> NodeResult:
    return NodeResult(values=(blocker,) * len(nd.outputs))


def merge_results(results: list[NodeResult], nd: NodeDef) -> CacheEntry:
    """Per output slot, the values of every call (list outputs concatenated, a blocker kept as one value);
    ui dicts merged key-wise."""
    outputs = nd.outputs
    values: list[list[Any]] = [[] for _ in outputs]
    for res in results:
        for i, out in enumerate(outputs):
            v = res.values[i]
            if out.is_list and not isinstance(v, ExecutionBlocker):
                values[i].extend(v)
            else:
                values[i].append(v)
    return CacheEntry(values, merge_ui([r.ui for r in results if r.ui is not None]))


def merge_ui(uis: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not uis:
        return None
    if len(uis) == 1:
        return uis[0]
    return {k: [x for u in uis for x in (u.get(k) or [])] for k in uis[0]}


def resolve_expanded(results: list[NodeResult], nd: NodeDef,
                     slot_values: Callable[[str, int], list[Any]]) -> CacheEntry:
    """An expanded node's second visit: each output that is a link into the subgraph takes the values the
    subgraph produced there; the values of all calls are concatenated per output slot."""
    values: list[list[Any]] = [[] for _ in nd.outputs]
    for res in results:
        for i in range(len(nd.outputs)):
            v = res.values[i] if i < len(res.values) else None
            if is_link(v):
                values[i].extend(slot_values(v[0], int(v[1])))
            elif nd.outputs[i].is_list and isinstance(v, list):
                values[i].extend(v)
            else:
                values[i].append(v)
    return CacheEntry(values, merge_ui([r.ui for r in results if r.ui is not None]))
