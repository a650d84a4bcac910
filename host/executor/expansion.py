"""Node expansion (COMPAT §4.7): a node returns a graph; its nodes join the run as ephemeral nodes and the
node's outputs are resolved from theirs on its second visit."""

from __future__ import annotations

from typing import Any

from host.executor.graph import is_link
from host.executor.signature import compute_keys
from host.executor.state import RunState
from host.registry import BoundNode
from isolate.calls import NodeResult


class ExpansionError(ValueError):
    """A node returned an expansion that cannot run."""


async def expand(run: RunState, nid: str, bound: BoundNode, results: list[NodeResult]) -> None:
    """Add every call's subgraph to the run; the parent then waits for the nodes its outputs link to."""
    nd = bound.nodedef
    if nd.api == "v3" and not nd.enable_expand:
        raise ExpansionError(f"node {nid} ({nd.name}) returned an expansion, but its schema does not set "
                             "enable_expand=True")
    for res in results:
        if res.expand is None:
            continue
        new_ids = await add_subgraph(run, nid, res.expand)
        for out_id in new_ids:
            if run.nodes[run.dyn.nodes[out_id]["class_type"]].nodedef.output_node:
                run.xl.add_node(out_id)
        for value in res.values:
            if is_link(value):
                if value[0] not in run.dyn.nodes:
                    raise ExpansionError(f"node {nid} ({nd.name}) returned a link to node {value[0]!r}, "
                                         "which is neither in the prompt nor in its expansion")
                run.xl.add_strong_link(value[0], int(value[1]), nid)


async def add_subgraph(run: RunState, parent: str, graph: Any) -> list[str]:
    """Register ``graph``'s nodes as ephemeral children of ``parent``, with their cache keys."""
    if not isinstance(graph, dict):
        raise ExpansionError(f"node {parent} returned an expansion that is not a graph: {type(graph).__name__}")
    dyn = run.dyn
    new_ids = []
    for new_id, info in graph.items():
        if not isinstance(info, dict) or run.nodes.get(info.get("class_type")) is None:
            raise ExpansionError(f"node {parent}'s expansion has node {new_id!r} with an unknown or missing "
                                 f"class_type: {info.get('class_type') if isinstance(info, dict) else info!r}")
        if new_id in dyn.nodes and not dyn.is_ephemeral(new_id):
            raise ExpansionError(f"node {parent}'s expansion reuses the id {new_id!r} of a prompt node")
        dyn.add_ephemeral(new_id, info, parent, info.get("override_display_id", parent))
        new_ids.append(new_id)
    for new_id in new_ids:
        for name, val in (dyn.nodes[new_id].get("inputs") or {}).items():
            if type(val) is list and is_link(val) and val[0] not in dyn.nodes:
                raise ExpansionError(f"node {parent}'s expansion links input {name!r} of node {new_id!r} to "
                                     f"node {val[0]!r}, which does not exist")
    await add_keys(run, parent, new_ids)
    return new_ids


async def add_keys(run: RunState, parent: str, new_ids: list[str]) -> None:
    """Cache keys of the new nodes, producers first; recorded in the sub-cache of the top-level node."""
    members = set(new_ids)
    order: list[str] = []
    state: dict[str, int] = {}
    cyclic: set[str] = set()
    for root in new_ids:
        stack = [root]
        while stack:
            n = stack[-1]
            if n not in state:
                state[n] = 1
                for _, src, _, _ in run.graph.links(n):
                    if src in members:
                        if src not in state:
                            stack.append(src)
                        elif state[src] == 1:
                            cyclic.update((n, src))  # a cycle inside the expansion: it fails when scheduled
            else:
                stack.pop()
                if state[n] == 1:
                    state[n] = 2
                    order.append(n)
    fingerprints = await run.fingerprints(order)
    compute_keys(run.dyn.nodes, order, run.ex.registry, fingerprints, cyclic, run.ex.interner, run.keys)
    real = run.dyn.real_id(parent)
    owner = (real, run.dyn.nodes[real]["class_type"])
    run.ex.subcaches.setdefault(owner, set()).update(run.keys[n] for n in new_ids)
