"""Graph-building tools for node code (ComfyUI's comfy_execution.graph_utils): ExecutionBlocker,
GraphBuilder for node expansion, add_graph_prefix.

GraphBuilder ids follow ComfyUI's scheme, which clients and packs rely on: without an explicit prefix a
builder takes ``"{root}.{call_index}.{graph_index}."``, where root is the id of the node being run, call_index
its list-mapping call and graph_index counts the builders made in that call; node ids within a builder are
"1", "2", ... unless given.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from isolate.context import CURRENT_NODE


def is_link(value: Any) -> bool:
    return (type(value) is list and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], (int, float)) and not isinstance(value[1], bool))


class ExecutionBlocker:
    """Returned in place of an output value: every node fed by it is skipped and receives the blocker.

    A blocker with a message reports it once as an execution error (``ExecutionBlocked``); ``None`` blocks
    silently."""

    def __init__(self, message: str | None) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"ExecutionBlocker({self.message!r})"


class _PrefixState:
    __slots__ = ("root", "call_index", "graph_index", "owner")

    def __init__(self, root: str, call_index: int, graph_index: int, owner: object) -> None:
        self.root, self.call_index, self.graph_index, self.owner = root, call_index, graph_index, owner


_PREFIX: ContextVar[_PrefixState | None] = ContextVar("nodehost_graph_prefix", default=None)


class Node:
    """One node of a GraphBuilder graph."""

    def __init__(self, id: str, class_type: str, inputs: dict[str, Any]) -> None:
        self.id = id
        self.class_type = class_type
        self.inputs = inputs
        self.override_display_id: str | None = None

    def out(self, index: int) -> list[Any]:
        """A link to output ``index`` of this node."""
        return [self.id, index]

    def set_input(self, key: str, value: Any) -> None:
        """Set an input; None removes it."""
        if value is None:
            self.inputs.pop(key, None)
        else:
            self.inputs[key] = value

    def get_input(self, key: str) -> Any:
        return self.inputs.get(key)

    def set_override_display_id(self, override_display_id: str) -> None:
        self.override_display_id = override_display_id

    def serialize(self) -> dict[str, Any]:
        node: dict[str, Any] = {"class_type": self.class_type, "inputs": self.inputs}
        if self.override_display_id is not None:
            node["override_display_id"] = self.override_display_id
        return node


class GraphBuilder:
    """Builds an API-format graph for node expansion (``{"result": ..., "expand": builder.finalize()}``)."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix if prefix is not None else GraphBuilder.alloc_prefix()
        self.nodes: dict[str, Node] = {}
        self.id_gen = 1

    @classmethod
    def set_default_prefix(cls, prefix_root: str, call_index: int, graph_index: int = 0) -> None:
        """Prefix of the builders made from now on in this context (the executor sets it per call)."""
        _PREFIX.set(_PrefixState(prefix_root, call_index, graph_index, CURRENT_NODE.get()))

    @classmethod
    def alloc_prefix(cls, root: str | None = None, call_index: int | None = None,
                     graph_index: int | None = None) -> str:
        state = _current_prefix()
        prefix = (f"{state.root if root is None else root}."
                  f"{state.call_index if call_index is None else call_index}."
                  f"{state.graph_index if graph_index is None else graph_index}.")
        state.graph_index += 1
        return prefix

    def node(self, class_type: str, id: str | None = None, **kwargs: Any) -> Node:
        """Add a node (or return the one with that id); inputs are constants or ``other.out(i)`` links."""
        if id is None:
            id = str(self.id_gen)
            self.id_gen += 1
        full_id = self.prefix + id
        existing = self.nodes.get(full_id)
        if existing is not None:
            return existing
        node = self.nodes[full_id] = Node(full_id, class_type, kwargs)
        return node

    def lookup_node(self, id: str) -> Node | None:
        return self.nodes.get(self.prefix + id)

    def remove_node(self, id: str) -> None:
        del self.nodes[self.prefix + id]

    def replace_node_output(self, node_id: str, index: int, new_value: Any) -> None:
        """Point every input linked to output ``index`` of ``node_id`` at ``new_value`` (None unlinks)."""
        target = self.prefix + node_id
        for node in self.nodes.values():
            for key, value in list(node.inputs.items()):
                if is_link(value) and value[0] == target and value[1] == index:
                    node.set_input(key, new_value)

    def finalize(self) -> dict[str, Any]:
        return {node_id: node.serialize() for node_id, node in self.nodes.items()}


def _current_prefix() -> _PrefixState:
    """The prefix state of this call: set explicitly, or started from the running node's id and call index."""
    state = _PREFIX.get()
    ctx = CURRENT_NODE.get()
    if state is not None and state.owner is ctx:
        return state
    if ctx is not None:
        state = _PrefixState(ctx.node_id, ctx.list_index, 0, ctx)
    else:
        state = _PrefixState("", 0, 0, None)
    _PREFIX.set(state)
    return state


def add_graph_prefix(graph: dict[str, Any], outputs: Any, prefix: str) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """``graph`` with every node id (and every link to one) prefixed; ``outputs`` re-pointed likewise."""
    new_graph = {}
    for node_id, info in graph.items():
        inputs = {name: [prefix + value[0], value[1]] if is_link(value) else value
                  for name, value in (info.get("inputs") or {}).items()}
        new_graph[prefix + node_id] = {"class_type": info["class_type"], "inputs": inputs}
    new_outputs = tuple([prefix + o[0], o[1]] if is_link(o) else o for o in outputs)
    return new_graph, new_outputs
