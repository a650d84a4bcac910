"""Prompt-graph helpers: links parsed once per prompt, and orders over them, all iterative (no recursion)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from isolate.graph_utils import is_link

__all__ = ["Link", "PromptGraph", "is_link", "unwrap_constant"]


def unwrap_constant(val: Any) -> Any:
    """List constants arrive wrapped as ``{"__value__": [...]}``."""
    if type(val) is dict and "__value__" in val:
        return val["__value__"]
    return val


#: ``(input name, source node id, source output index, input declared by the class)``; a plain tuple, since
#: one is made per link per prompt and a NamedTuple costs a Python-level ``__new__``.
Link = tuple[str, str, int, bool]


class PromptGraph:
    """The links of a prompt, parsed once: per node its well-formed links to nodes present in the prompt
    (``declared`` tells whether the input is declared by the node's class)."""

    def __init__(self, prompt: dict[str, dict[str, Any]], nodes: dict[str, Any]) -> None:
        self.prompt = prompt
        self._nodes = nodes  # class_type -> BoundNode
        self._links: dict[str, list[Link]] = {}

    def fork(self, prompt: dict[str, dict[str, Any]]) -> PromptGraph:
        """A graph over ``prompt`` (the same nodes plus, later, ephemeral ones) reusing the parsed links."""
        forked = PromptGraph(prompt, self._nodes)
        forked._links = dict(self._links)
        return forked

    def links(self, nid: str) -> list[Link]:
        found = self._links.get(nid)
        if found is None:
            node = self.prompt[nid]
            bound = self._nodes[node["class_type"]]
            inputs = node.get("inputs") or {}
            declared = bound.view(inputs).declared if bound.dynamic else bound.declared
            prompt = self.prompt
            found = self._links[nid] = [
                (name, val[0], int(val[1]), name in declared)
                for name, val in inputs.items()
                if type(val) is list and len(val) == 2 and val[0] in prompt and is_link(val)]
        return found

    def post_order(self, roots: Iterable[str]) -> tuple[list[str], list[list[str]], set[str]]:
        """Nodes reachable from ``roots`` through any link, producers first.

        Also returns the cycles made only of declared links (validation errors) and every node on a cycle
        that runs through an undeclared link (those fail at execution). Iterative: a node is pushed, expanded
        once (state 1: on the current path), and emitted when it is popped again (state 2).
        """
        state: dict[str, int] = {}
        order: list[str] = []
        declared_cycles: list[list[str]] = []
        cyclic: set[str] = set()
        links = self.links
        for root in roots:
            if root in state:
                continue
            stack = [root]
            while stack:
                nid = stack[-1]
                st = state.get(nid)
                if st is None:
                    state[nid] = 1
                    for link in links(nid):
                        src = link[1]
                        seen = state.get(src)
                        if seen is None:
                            stack.append(src)
                        elif seen == 1:
                            self._cycle(stack, state, link, declared_cycles, cyclic)
                else:
                    stack.pop()
                    if st == 1:
                        state[nid] = 2
                        order.append(nid)
        return order, declared_cycles, cyclic

    def _cycle(self, stack: list[str], state: dict[str, int], closing: Link, declared_cycles: list[list[str]],
               cyclic: set[str]) -> None:
        """Record the cycle closed by ``closing`` (from the node being expanded back to one on the path)."""
        last = {n: i for i, n in enumerate(stack)}
        path = [n for i, n in enumerate(stack) if state.get(n) == 1 and last[n] == i]
        cycle = path[path.index(closing[1]):]
        edges_declared = closing[3] and all(
            any(src == cycle[i + 1] and declared for _, src, _, declared in self.links(cycle[i]))
            for i in range(len(cycle) - 1))
        if edges_declared:
            declared_cycles.append(cycle)
        else:
            cyclic.update(cycle)
