"""Prompt-graph helpers: links parsed once per prompt, and orders over them, all iterative (no recursion)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def is_link(val: Any) -> bool:
    """``[node_id: str, output_index: int|float]`` (COMPAT §3.1)."""
    return (type(val) is list and len(val) == 2 and isinstance(val[0], str)
            and isinstance(val[1], (int, float)) and not isinstance(val[1], bool))


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

    def __init__(self, prompt: dict[str, dict[str, Any]], declared: dict[str, dict[str, Any]]) -> None:
        self.prompt = prompt
        self._declared = declared  # class_type -> declared input names (a dict or set)
        self._links: dict[str, list[Link]] = {}

    def links(self, nid: str) -> list[Link]:
        found = self._links.get(nid)
        if found is None:
            node = self.prompt[nid]
            declared = self._declared[node["class_type"]]
            prompt = self.prompt
            found = self._links[nid] = [
                (name, val[0], int(val[1]), name in declared)
                for name, val in (node.get("inputs") or {}).items()
                if type(val) is list and len(val) == 2 and val[0] in prompt and is_link(val)]
        return found

    def post_order(self, roots: Iterable[str]) -> tuple[list[str], list[list[str]], set[str]]:
        """Nodes reachable from ``roots`` through any link, producers first.

        Also returns the cycles made only of declared links (validation errors) and every node on a cycle
        that runs through an undeclared link (those fail at execution).
        """
        state: dict[str, int] = {}
        order: list[str] = []
        declared_cycles: list[list[str]] = []
        cyclic: set[str] = set()
        for root in roots:
            if root in state:
                continue
            state[root] = 0
            stack: list[tuple[str, Any, bool]] = [(root, iter(self.links(root)), True)]
            while stack:
                nid, it, _ = stack[-1]
                for link in it:
                    src = link[1]
                    seen = state.get(src)
                    if seen is None:
                        state[src] = 0
                        stack.append((src, iter(self.links(src)), link[3]))
                        break
                    if seen == 0:
                        self._back_edge(stack, link, declared_cycles, cyclic)
                else:
                    stack.pop()
                    state[nid] = 1
                    order.append(nid)
        return order, declared_cycles, cyclic

    @staticmethod
    def _back_edge(stack: list[tuple[str, Any, bool]], link: Link, declared_cycles: list[list[str]],
                   cyclic: set[str]) -> None:
        names = [n for n, _, _ in stack]
        start = names.index(link[1])
        cycle = names[start:]
        if link[3] and all(d for _, _, d in stack[start + 1:]):
            declared_cycles.append(cycle)
        else:
            cyclic.update(cycle)
