"""Which node runs next (COMPAT §4.3): block counts over the links still to be produced, and ComfyUI's
"UX-friendly" pick among the ready nodes."""

from __future__ import annotations

from host.executor.graph import PromptGraph
from host.registry import BoundNode


class ReadyQueue:
    """The nodes of one prompt still to visit. ``order`` lists them producers first."""

    def __init__(self, graph: PromptGraph, order: list[str], nodes: dict[str, BoundNode]) -> None:
        members = set(order)
        self.remaining = dict.fromkeys(order)
        self.consumers: dict[str, list[str]] = {nid: [] for nid in order}
        self.blocks: dict[str, int] = {}
        self.flags: dict[str, tuple[bool, bool]] = {}
        for nid in order:
            nd = nodes[graph.prompt[nid]["class_type"]].nodedef
            self.flags[nid] = (nd.output_node, nd.is_async)
            count = 0
            for _, src, _, _ in graph.links(nid):
                if src in members:
                    self.consumers[src].append(nid)
                    count += 1
            self.blocks[nid] = count
        self.ready = [nid for nid in order if self.blocks[nid] == 0]

    def __bool__(self) -> bool:
        return bool(self.remaining)

    def _feeds_output(self, nid: str, depth: int) -> bool:
        for c in self.consumers[nid]:
            if self.flags[c][0] or (depth > 1 and self._feeds_output(c, depth - 1)):
                return True
        return False

    def pick(self) -> str | None:
        """An output or async node first, then one feeding an output directly, then at two levels, then the
        first ready one. None when nothing is ready (a dependency cycle)."""
        ready = self.ready
        if not ready:
            return None
        for i, nid in enumerate(ready):
            if self.flags[nid][0] or self.flags[nid][1]:
                return ready.pop(i)
        for depth in (1, 2):
            for i, nid in enumerate(ready):
                if self._feeds_output(nid, depth):
                    return ready.pop(i)
        return ready.pop(0)

    def done(self, nid: str) -> None:
        del self.remaining[nid]
        for c in self.consumers[nid]:
            self.blocks[c] -= 1
            if self.blocks[c] == 0:
                self.ready.append(c)

    def blocked_node(self) -> str:
        """A node still waiting (the one to blame for a cycle)."""
        return next(iter(self.remaining))
