"""The execution list (COMPAT §4.3): nodes still to visit, strong links between them, external blocks for
running async nodes, and ComfyUI's "UX-friendly" pick among the ready nodes. Grows while the prompt runs
(lazy inputs, node expansion)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from host.executor.graph import PromptGraph
from host.registry import BoundNode


class ExecutionList:
    def __init__(self, graph: PromptGraph, nodes: dict[str, BoundNode], available: Callable[[str], bool]) -> None:
        self.graph = graph
        self.nodes = nodes
        self.available = available
        self.pending: dict[str, int] = {}  # node -> insertion index
        self.blocks: dict[str, int] = {}
        self.consumers: dict[str, list[str]] = {}
        self.strong: set[tuple[str, int, str]] = set()
        self.ready: list[str] = []
        self.staged: str | None = None
        self.external = 0
        self.unblocked = asyncio.Event()
        self._counter = 0

    def __bool__(self) -> bool:
        return bool(self.pending)

    def _bound(self, nid: str) -> BoundNode:
        return self.nodes[self.graph.prompt[nid]["class_type"]]

    def add_node(self, root: str) -> None:
        """Add ``root`` and, through non-lazy links, every producer whose output is not yet available."""
        if root in self.pending:
            return
        stack = [root]
        while stack:
            nid = stack.pop()
            if nid in self.pending:
                continue
            self.pending[nid] = self._counter
            self._counter += 1
            self.blocks[nid] = 0
            bound = self._bound(nid)
            slots = bound.view(self.graph.prompt[nid].get("inputs") or {}).exec_slots if bound.dynamic \
                else bound.exec_slots
            for name, src, slot, _ in self.graph.links(nid):
                spec = slots.get(name)
                if (spec is not None and spec.lazy) or self.available(src):
                    continue
                self.add_strong_link(src, slot, nid, add_source=False)
                if src not in self.pending:
                    stack.append(src)
            if self.blocks[nid] == 0:
                self.ready.append(nid)

    def add_strong_link(self, src: str, slot: int, dst: str, add_source: bool = True) -> None:
        """``dst`` waits for ``src`` (added to the list when it is not there yet)."""
        if add_source and src not in self.pending:
            self.add_node(src)
        if (src, slot, dst) in self.strong:
            return
        self.strong.add((src, slot, dst))
        self.consumers.setdefault(src, []).append(dst)
        self.blocks[dst] += 1
        if dst in self.ready:
            self.ready.remove(dst)

    def add_external_block(self, nid: str) -> Callable[[], None]:
        """Block ``nid`` until the returned callback runs (an async node's tasks finishing)."""
        self.blocks[nid] += 1
        self.external += 1

        def unblock() -> None:
            self.external -= 1
            self._release(nid)
            self.unblocked.set()

        return unblock

    def _release(self, nid: str) -> None:
        self.blocks[nid] -= 1
        if self.blocks[nid] == 0 and nid in self.pending and nid != self.staged:
            self.ready.append(nid)

    def pick(self) -> str | None:
        """An output or async node first, then one feeding an output directly, then at two levels, then the
        first ready one (in the order nodes were added). None when nothing is ready."""
        ready = self.ready
        if not ready:
            return None
        if len(ready) == 1:
            nid = ready.pop()
        else:
            nid = self._choose(sorted(ready, key=self.pending.__getitem__))
            ready.remove(nid)
        self.staged = nid
        return nid

    def _choose(self, ready: list[str]) -> str:
        for nid in ready:
            nd = self._bound(nid).nodedef
            if nd.output_node or nd.is_async:
                return nid
        for depth in (1, 2):
            for nid in ready:
                if self._feeds_output(nid, depth):
                    return nid
        return ready[0]

    def _feeds_output(self, nid: str, depth: int) -> bool:
        for c in self.consumers.get(nid, ()):
            if self._bound(c).nodedef.output_node or (depth > 1 and self._feeds_output(c, depth - 1)):
                return True
        return False

    def complete(self, nid: str) -> None:
        self.staged = None
        del self.pending[nid]
        for c in self.consumers.pop(nid, ()):
            self._release(c)

    def unstage(self, nid: str) -> None:
        """The node returned PENDING: it waits for its new strong links or external blocks."""
        self.staged = None
        if self.blocks[nid] == 0:
            self.ready.append(nid)

    def cycle_nodes(self) -> list[str]:
        """Pending nodes on a cycle or behind one (what is left after peeling the unblocked ones)."""
        blocks = dict(self.blocks)
        queue = [n for n in self.pending if blocks[n] == 0]
        removed = set()
        while queue:
            n = queue.pop()
            removed.add(n)
            for c in self.consumers.get(n, ()):
                blocks[c] -= 1
                if blocks[c] == 0:
                    queue.append(c)
        return [n for n in self.pending if n not in removed]
