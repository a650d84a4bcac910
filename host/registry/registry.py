"""The node registry: NodeDefs bound to the runner that executes them, conflicts recorded, frozen after load."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from host.executor.runner import NodeRunner
from isolate.nodedef import InputSlot, NodeDef
from isolate.v1 import nodedef_from_v1
from isolate.v3 import nodedef_from_v3
from isolate.v3_dynamic import finalize_inputs


@dataclass(frozen=True)
class Conflict:
    """A node name registered twice: the first origin is kept, the second is recorded here."""

    name: str
    kept: str
    rejected: str


class SlotView:
    """A node's input slots by name: ``declared`` (required and optional, what validation checks),
    ``required`` names, ``exec_slots`` (every slot that receives a value, tuple-typed hidden entries included)."""

    __slots__ = ("declared", "required", "exec_slots")

    def __init__(self, slots: list[InputSlot]) -> None:
        self.declared: dict[str, InputSlot] = {s.name: s for s in slots if s.section != "hidden"}
        self.required = [s.name for s in slots if s.section == "required"]
        self.exec_slots: dict[str, InputSlot] = {s.name: s for s in slots if s.hidden_kind is None}


class BoundNode:
    """A NodeDef, its runner and the lookups the executor needs per node, computed once."""

    __slots__ = ("nodedef", "runner", "declared", "required", "exec_slots", "hidden_kinds", "output_types",
                 "output_any", "uses_unique_id", "dynamic", "_static")

    def __init__(self, nodedef: NodeDef, runner: NodeRunner) -> None:
        self.nodedef = nodedef
        self.runner = runner
        self._static = SlotView(nodedef.inputs)
        #: v3 dynamic inputs (Autogrow, DynamicCombo, ...): the slots depend on each prompt node's inputs
        self.dynamic = nodedef.has_dynamic
        self.declared = self._static.declared
        self.required = self._static.required
        self.exec_slots = self._static.exec_slots
        self.hidden_kinds = [s.hidden_kind for s in nodedef.inputs if s.hidden_kind is not None]
        self.output_types = [o.type for o in nodedef.outputs]
        self.output_any = [o.any_type for o in nodedef.outputs]
        self.uses_unique_id = "UNIQUE_ID" in self.hidden_kinds

    def view(self, node_inputs: dict[str, Any]) -> SlotView:
        """The slots of one prompt node: the class's own, or its dynamic inputs finalized against the node."""
        if not self.dynamic:
            return self._static
        return SlotView(finalize_inputs(self.nodedef, node_inputs))


@dataclass
class Registry:
    """Collects node types; ``freeze()`` fixes the set after load."""

    nodes: dict[str, BoundNode] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    frozen: bool = False
    #: nodes whose definition reads the disk (combo lists of model or input files): name -> rebuild, called
    #: by :meth:`refresh` when /object_info or validation asks
    live: dict[str, Callable[[], NodeDef]] = field(default_factory=dict)

    def add(self, nodedef: NodeDef, runner: NodeRunner) -> bool:
        """Register a node; a name already taken is a recorded conflict (first one kept)."""
        if self.frozen:
            raise RuntimeError("the registry is frozen after load")
        existing = self.nodes.get(nodedef.name)
        if existing is not None:
            self.conflicts.append(Conflict(nodedef.name, existing.nodedef.origin, nodedef.origin))
            return False
        self.nodes[nodedef.name] = BoundNode(nodedef, runner)
        return True

    def add_classes(self, classes: dict[str, type], runner: Any, display_names: dict[str, str] | None = None,
                    origin: str = "builtin", python_module: str = "nodes", live: bool = False) -> None:
        """Read v1 classes or v3 ComfyNode classes into NodeDefs bound to ``runner`` (a LocalRunner).

        A class whose definition fails is recorded in ``failures`` and loading goes on. ``live`` classes are
        read again by :meth:`refresh` (their inputs list files)."""
        for name, cls in classes.items():
            def build(name: str = name, cls: type = cls) -> NodeDef:
                if hasattr(cls, "define_schema"):
                    return nodedef_from_v3(cls, origin=origin, python_module=python_module)
                return nodedef_from_v1(name, cls, (display_names or {}).get(name), python_module, origin)

            try:
                nd = build()
            except Exception as exc:  # a broken node class must not stop the others from loading
                self.failures[name] = f"{type(exc).__name__}: {exc}"
                continue
            if self.add(nd, runner):
                runner.add(nd, cls)
                if live:
                    self.live[nd.name] = build

    def refresh(self, names: Iterable[str] | None = None) -> None:
        """Rebuild the live nodes among ``names`` (all of them when None), keeping their runners; a rebuild
        that fails keeps the previous definition."""
        for name in self.live if names is None else [n for n in names if n in self.live]:
            try:
                nd = self.live[name]()
            except Exception:
                continue
            bound = self.nodes[name]
            self.nodes[name] = BoundNode(nd, bound.runner)

    def rebind(self, runner: NodeRunner, nodedefs: Iterable[NodeDef]) -> tuple[list[str], list[str], list[str]]:
        """Replace the nodes bound to ``runner`` by ``nodedefs`` (a pack reloaded under a running server, so
        also when frozen); returns the names added, removed and changed. A new name another runner holds is a
        recorded conflict. The node table is swapped in one assignment: a reader on another thread sees the
        old one or the new one, and a prompt running keeps the table it started with."""
        new_defs = {nd.name: nd for nd in nodedefs}
        table: dict[str, BoundNode] = {}
        removed, changed = [], []
        for name, bound in self.nodes.items():
            if bound.runner is not runner:
                table[name] = bound
            elif name in new_defs:
                nd = new_defs.pop(name)
                table[name] = BoundNode(nd, runner)
                if nd.info != bound.nodedef.info:
                    changed.append(name)
            else:
                removed.append(name)
        added = []
        for name, nd in new_defs.items():
            if name in table:
                self.conflicts.append(Conflict(name, table[name].nodedef.origin, nd.origin))
                continue
            table[name] = BoundNode(nd, runner)
            added.append(name)
        self.nodes = table
        return added, removed, changed

    def freeze(self) -> Registry:
        self.frozen = True
        return self

    def get(self, name: str) -> BoundNode | None:
        return self.nodes.get(name)

    def object_info(self, name: str | None = None) -> dict[str, Any]:
        """``/object_info`` (all nodes) or ``/object_info/{name}`` (``{}`` when unknown); live nodes re-read."""
        if self.live:
            self.refresh(None if name is None else [name])
        if name is not None:
            node = self.nodes.get(name)
            return {name: node.nodedef.info} if node else {}
        return {n: b.nodedef.info for n, b in self.nodes.items()}
