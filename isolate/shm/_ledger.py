"""The host's segments and allocations: arena slabs, dedicated and granted segments, the warm pool.

Pure bookkeeping, called under ShmHost's lock; ShmHost (in _host.py) owns the counting policy and the API.
"""

from __future__ import annotations

import bisect

from ._arena import FreeList
from ._segment import SHM_DIR, AddressIndex, Mapping, create_segment, new_name, remove_private_dir, unlink_segment
from ._types import ALIGN, ShmError, TensorHandle, check_handle, round_up

GRAIN = 1 << 20  # dedicated and granted segments are rounded up to whole MiB


class Seg:
    """A segment; `kind` is "slab" (arena), "dedicated" (one big allocation), "grant" (lent) or "pooled"."""

    __slots__ = ("map", "kind", "arena", "allocs", "starts", "refs", "live")

    def __init__(self, mapping: Mapping) -> None:
        self.map, self.kind, self.arena, self.refs, self.live = mapping, "pooled", None, 0, False
        self.allocs: dict[int, Alloc] = {}
        self.starts: list[int] = []  # sorted keys of allocs

    @property
    def name(self) -> str:
        return self.map.name


class Alloc:
    """A byte range with its counts: references by owners, live host views, source holds."""

    __slots__ = ("seg", "start", "size", "refs", "views", "holds")

    def __init__(self, seg: Seg, start: int, size: int) -> None:
        self.seg, self.start, self.size, self.refs, self.views, self.holds = seg, start, size, 0, 0, 0

    def idle(self) -> bool:
        return not (self.refs or self.views or self.holds)


class Ledger:
    def __init__(self, root: str, slab_bytes: int, pool_bytes: int, prefault: bool, directory: str) -> None:
        self.root, self.slab_bytes, self.pool_bytes, self.prefault = root, slab_bytes, pool_bytes, prefault
        self.directory = directory
        self.segs: dict[str, Seg] = {}
        self.names: set[str] = set()  # every file this host has in /dev/shm (shared with its exit finalizer)
        self.pool: list[Seg] = []
        self._slabs: list[Seg] = []
        self._index = AddressIndex()

    def live(self, name: str) -> Seg:
        seg = self.segs.get(name)
        if seg is None or not seg.live:
            raise ShmError(f"unknown segment {name!r}")
        return seg

    def lookup(self, h: TensorHandle) -> Alloc:
        """The live allocation holding all of a handle's bytes (ShmError if none)."""
        start, end = check_handle(h)
        seg = self.segs.get(h.segment)
        alloc = _alloc_at(seg, start, end) if seg is not None and seg.live else None
        if alloc is None:
            raise ShmError(f"no live allocation of this host at {h.segment!r} [{start}, {end})")
        return alloc

    def find(self, lo: int, hi: int) -> Alloc | None:
        """The live allocation holding the addresses [lo, hi), if any."""
        seg = self._index.find(lo, hi)
        if seg is None or not seg.live:
            return None
        return _alloc_at(seg, lo - seg.map.base, hi - seg.map.base)

    def allocate(self, nbytes: int) -> Alloc:
        """A new (idle) allocation: from an arena slab, or its own segment above half a slab."""
        if nbytes > self.slab_bytes // 2:
            return self.take(nbytes, "dedicated").allocs[0]
        size = round_up(nbytes, ALIGN)
        for seg in reversed(self._slabs):
            off = seg.arena.alloc(size)
            if off is not None:
                return _add_alloc(seg, off, size)
        seg = self.take(self.slab_bytes, "slab")
        return _add_alloc(seg, seg.arena.alloc(size), size)

    def take(self, min_size: int, kind: str, ahead: bool = False) -> Seg:
        """A segment of at least min_size: best fit from the pool (at most twice the size), else a new one.

        A new one is pre-faulted only when made ahead of need (``ahead``, and the host's ``prefault``): one made
        for a copy waiting on it is filled by that copy, which faults each page once, as a copy into fresh
        memory does (populating it first would touch every page twice, and a whole slab for a small tensor)."""
        fits = [s for s in self.pool if min_size <= s.map.size <= 2 * min_size]
        if fits:
            seg = min(fits, key=lambda s: s.map.size)
            self.pool.remove(seg)
        else:
            name = new_name(self.root)
            seg = Seg(create_segment(name, round_up(min_size, GRAIN), self.prefault and ahead,
                                      self.directory))
            self.segs[name] = seg
            self.names.add(name)
            self._index.add(seg.map.base, seg.map.size, seg)
        seg.kind, seg.live, seg.refs = kind, True, 0
        if kind == "slab":
            seg.arena, seg.allocs, seg.starts = FreeList(seg.map.size), {}, []
            self._slabs.append(seg)
        else:
            seg.arena, seg.allocs, seg.starts = None, {0: Alloc(seg, 0, seg.map.size)}, [0]
        return seg

    def settle(self, obj: Seg | Alloc) -> None:
        """Free what nothing uses any more: the allocation, then its segment."""
        seg = obj if isinstance(obj, Seg) else obj.seg
        if isinstance(obj, Alloc) and obj.idle() and seg.arena is not None and seg.allocs.get(obj.start) is obj:
            del seg.allocs[obj.start]
            del seg.starts[bisect.bisect_left(seg.starts, obj.start)]
            seg.arena.free(obj.start, obj.size)
        if not seg.live or seg.refs:
            return
        busy = bool(seg.allocs) if seg.arena is not None else not seg.allocs[0].idle()
        if not busy:
            self.retire(seg)

    def retire(self, seg: Seg) -> None:
        """An unused segment goes to the warm pool; the oldest pooled ones beyond pool_bytes are unlinked."""
        seg.kind, seg.live, seg.arena, seg.allocs, seg.starts = "pooled", False, None, {}, []
        if seg in self._slabs:
            self._slabs.remove(seg)
        self.pool.append(seg)
        while self.pool and sum(s.map.size for s in self.pool) > self.pool_bytes:
            self.destroy(self.pool.pop(0))

    def destroy(self, seg: Seg) -> None:
        seg.live = False
        self.segs.pop(seg.name, None)
        self.names.discard(seg.name)
        self._index.remove(seg.map.base)
        unlink_segment(seg.name, self.directory)
        seg.map.close()

    def destroy_all(self) -> None:
        for seg in list(self.segs.values()):
            self.destroy(seg)
        self._slabs.clear()
        self.pool.clear()


def _alloc_at(seg: Seg, lo: int, hi: int) -> Alloc | None:
    i = bisect.bisect_right(seg.starts, lo) - 1
    if i < 0:
        return None
    alloc = seg.allocs[seg.starts[i]]
    return alloc if hi <= alloc.start + alloc.size else None


def _add_alloc(seg: Seg, off: int, size: int) -> Alloc:
    alloc = seg.allocs[off] = Alloc(seg, off, size)
    bisect.insort(seg.starts, off)
    return alloc


def unlink_all(names: set[str], directory: str = SHM_DIR) -> None:
    for name in list(names):
        unlink_segment(name, directory)
    if directory != SHM_DIR:
        remove_private_dir(directory)
