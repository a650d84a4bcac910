"""ShmClient: the child's side. Maps the host's segments by name, never creates one.

- `open(handle)` maps the segment (cached) and returns a view on the same pages.
- `add_grant(grant)` lends the client a host slab; `export` and `empty` carve from the newest grant with room
  (bump allocation, never reused) and raise SlabExhausted(needed) when none has room: the caller asks the
  host for another slab (grant_slab(owner, needed)) and retries. At most `max_grants` stay active; older ones
  are retired (no new carves) and given back once the child's own views into them are gone.
- `take_released()` lists what the child no longer needs, for the RPC layer to send as `release` messages:
  each opened handle once every view `open` returned for it is gone (matching the one reference the sender
  took for this child), and each retired grant's segment once no child view uses it.
- A mapping stays while views of it live (they hold a buffer export; see _segment.py) or it is an active
  grant; unused mappings stay cached, most recently used first, up to `cache_bytes` (a cached mapping of a
  segment the host has since unlinked still holds its memory, hence the bound).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import msgspec

from ._segment import AddressIndex, Mapping, open_segment
from ._types import (
    ALIGN,
    ITEMSIZE,
    ShmError,
    SlabExhausted,
    SlabGrant,
    TensorHandle,
    contiguous_strides,
    extent,
    round_up,
)
from ._views import (
    Reaper,
    copy_strides,
    describe,
    empty_handle,
    fresh_view,
    make_handle,
    make_view,
    typed_shape,
    write_copy,
)


class _Map:
    __slots__ = ("map", "views", "cursor", "granted", "retired")

    def __init__(self, mapping: Mapping) -> None:
        self.map, self.views, self.cursor, self.granted, self.retired = mapping, 0, 0, False, False


class ShmClient:
    def __init__(self, *, cache_bytes: int = 128 << 20, max_grants: int = 2) -> None:
        self._maps: dict[str, _Map] = {}
        self._index = AddressIndex()
        self._idle: OrderedDict[str, int] = OrderedDict()  # unused mappings -> size, least recently used first
        self._grants: list[_Map] = []  # active, oldest first
        self._released: list[TensorHandle | str] = []
        self._cache_bytes, self._max_grants = cache_bytes, max_grants
        self._reaper = Reaper(self._apply)

    def open(self, handle: TensorHandle) -> Any:
        """A view (torch tensor or numpy array, per handle.kind) on the handle's bytes; writes are shared."""
        if handle.segment == "":
            return fresh_view(handle)
        with self._reaper.lock:
            self._reaper.drain()
            m = self._map(handle.segment)
            try:
                view, root = make_view(m.map, handle)
            except BaseException:
                self._maybe_idle(m)
                raise
            m.views += 1
            self._idle.pop(m.map.name, None)
            self._reaper.watch(root, ("open", m, handle))
            return view

    def add_grant(self, grant: SlabGrant) -> None:
        with self._reaper.lock:
            self._reaper.drain()
            m = self._map(grant.segment)
            if m.map.size < grant.size:
                raise ShmError(f"segment {grant.segment} is smaller than its grant")
            m.cursor, m.granted, m.retired = 0, True, False
            self._idle.pop(grant.segment, None)
            self._grants.append(m)
            while len(self._grants) > self._max_grants:
                self._retire(self._grants[0])

    def retire_grant(self, segment: str) -> None:
        """Carve nothing more from this grant; it is released once the child's views into it are gone."""
        with self._reaper.lock:
            self._reaper.drain()
            m = self._maps.get(segment)
            if m is not None and m.granted:
                self._retire(m)

    def export(self, obj: Any) -> TensorHandle:
        """A handle to `obj`: the same bytes if it lies in a mapped segment (no copy), else one copy carved from
        a granted slab (SlabExhausted if none has room)."""
        d = describe(obj)
        if d.nbytes == 0:
            return empty_handle(d)
        with self._reaper.lock:
            self._reaper.drain()
            m = self._index.find(d.addr + d.lo, d.addr + d.hi) if d.shareable else None
            if m is not None:
                return make_handle(m.map.name, d.addr - m.map.base, d, d.strides)
            strides = copy_strides(d)
            m, offset = self._carve(extent(d.shape, strides, d.itemsize)[1])
            m.views += 1  # the grant may not be given back while we copy
        try:
            write_copy(m.map, offset, d, strides)
        finally:
            self._reaper.push(("carve", m, None))
        return make_handle(m.map.name, offset, d, strides)

    def empty(self, shape: Any, dtype: Any = "float32") -> Any:
        """A new uninitialized torch tensor carved from a granted slab: `export` sends it without a copy."""
        shape, name = typed_shape(shape, dtype)
        nbytes = math.prod(shape) * ITEMSIZE[name]
        h = TensorHandle("", 0, name, shape, contiguous_strides(shape), nbytes)
        if nbytes == 0:
            return fresh_view(h)
        with self._reaper.lock:
            self._reaper.drain()
            m, offset = self._carve(nbytes)
            view, root = make_view(m.map, msgspec.structs.replace(h, segment=m.map.name, offset=offset))
            m.views += 1
            self._reaper.watch(root, ("carve", m, None))
            return view

    def take_released(self) -> list[TensorHandle | str]:
        """Handles and segment names the child is done with, since the last call (see the module docstring)."""
        with self._reaper.lock:
            self._reaper.drain()
            out, self._released = self._released, []
            return out

    def collect(self) -> None:
        with self._reaper.lock:
            self._reaper.drain()

    def stats(self) -> dict[str, Any]:
        with self._reaper.lock:
            self._reaper.drain()
            return {
                "mapped": sorted(self._maps),
                "views": sum(m.views for m in self._maps.values()),
                "grants": [(m.map.name, m.cursor, m.map.size) for m in self._grants],
            }

    def close(self) -> None:
        """Drop every mapping (each one unmaps when its last view dies)."""
        with self._reaper.lock:
            for m in self._maps.values():
                m.map.close()
            self._maps.clear()
            self._idle.clear()
            self._grants.clear()
            self._index = AddressIndex()

    def _map(self, name: str) -> _Map:
        m = self._maps.get(name)
        if m is None:
            m = self._maps[name] = _Map(open_segment(name))
            self._index.add(m.map.base, m.map.size, m)
        return m

    def _carve(self, nbytes: int) -> tuple[_Map, int]:
        for m in reversed(self._grants):
            if m.cursor + nbytes <= m.map.size:
                offset = m.cursor
                m.cursor = min(offset + round_up(nbytes, ALIGN), m.map.size)
                return m, offset
        raise SlabExhausted(nbytes)

    def _apply(self, event: tuple[str, _Map, TensorHandle | None]) -> None:
        what, m, handle = event
        m.views -= 1
        if what == "open":
            self._released.append(handle)
        self._maybe_idle(m)

    def _retire(self, m: _Map) -> None:
        self._grants.remove(m)
        m.granted, m.retired = False, True
        self._maybe_idle(m)

    def _maybe_idle(self, m: _Map) -> None:
        """An unused mapping: a retired grant is given back; the mapping joins the cache of idle ones."""
        if m.views or m.granted or self._maps.get(m.map.name) is not m:
            return
        if m.retired:
            m.retired = False
            self._released.append(m.map.name)
        self._idle[m.map.name] = m.map.size
        self._idle.move_to_end(m.map.name)
        while sum(self._idle.values()) > self._cache_bytes:
            name, _ = self._idle.popitem(last=False)
            gone = self._maps.pop(name)
            self._index.remove(gone.map.base)
            gone.map.close()
