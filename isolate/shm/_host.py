"""ShmHost: the host's shared-memory arena, its reference counts, and the slabs it lends to children.

One per host process, constructed and passed around (no module state but a name counter). The host creates,
counts and unlinks every segment; children only map them, so a crashed child leaks nothing.

Lifetime rules
- An *allocation* is a byte range: a piece of an arena slab, or a whole dedicated or granted segment. It stays
  while any of these is non-zero:
  - references by owner: `acquire(handle, owner)` / `release(handle, owner)` / `release_owner(owner)`;
    `export(obj, owner=...)` takes one for that owner;
  - host-side views: every tensor/array returned by `empty` or `open` (and everything derived from it: slices,
    `.T`, `.numpy()`) keeps a root array alive, and a finalizer on that root counts the view down when the
    last of them is gone. The host thus keeps exactly the allocations its own tensors still use;
  - a *source hold*: a copying `export(obj)` without owner keeps the copy while `obj` lives (finalizer on obj),
    so a handle is valid at least as long as the object it was made from.
- A *segment* may also be referenced as a whole (`acquire(name, owner)`); `grant_slab` takes such a reference
  for the child it lends the segment to. A slab lives while it has allocations or segment references; a
  dedicated or granted segment while its one allocation or its segment references do.
- A segment nobody uses goes back to a pool of warm (pre-faulted) segments, up to `pool_bytes`, and beyond that
  is unlinked. An mmap is never closed under a live view: views hold a buffer export, so close() would raise
  BufferError; the mapping then lives until the last view dies (see _segment.py).
- Reclamation runs on the finalizer events at once when possible, else at the next call (`collect()` forces
  it). No timers, no time-window keepers.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from ._ledger import GRAIN, Alloc, Ledger, Seg, unlink_all
from ._segment import SHM_DIR, private_dir, remove_private_dir, shm_root
from ._types import ITEMSIZE, ShmError, ShmStats, SlabGrant, TensorHandle, contiguous_strides, round_up
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


class ShmHost:
    """The host's shared memory: see the module docstring for the lifetime rules.

    root: name root (default $NODEHOST_SHM_PREFIX or "nodehost"). slab_bytes: size of an arena slab; an
    allocation above half of it gets its own segment. pool_bytes: free warm segments kept for reuse.
    prefault: map every page of a segment made ahead of need (``reserve``) at once, so that the first copy into it
    costs no page faults (a segment made for a waiting copy is faulted by that copy instead).
    private: keep the segments in this host's own folder (``directory``, see _segment.py) instead of /dev/shm
    itself: a sandbox can then show a child that folder alone. Children learn it from $NODEHOST_SHM_DIR.
    """

    def __init__(
        self, *, root: str | None = None, slab_bytes: int = 64 << 20, pool_bytes: int = 256 << 20,
        prefault: bool = True, private: bool = False,
    ) -> None:
        self.root = shm_root(root)
        #: the folder holding this host's segments (/dev/shm, or its private folder)
        self.directory = private_dir(self.root) if private else SHM_DIR
        self._ledger = Ledger(self.root, round_up(slab_bytes, GRAIN), pool_bytes, prefault, self.directory)
        self._refs: dict[str, dict[Seg | Alloc, int]] = {}  # owner -> {segment or allocation: count}
        self._reaper = Reaper(self._apply)
        self._closed = False
        self._copies = self._copied_bytes = self._allocations_total = 0
        # unlink at interpreter exit (or garbage collection) if close() was never called
        self._unlinker = weakref.finalize(self, unlink_all, self._ledger.names, self.directory)

    def export(self, obj: Any, *, owner: str | None = None) -> TensorHandle:
        """A handle to `obj` (torch tensor or numpy array) in shared memory.

        If its memory already lies in a segment of this host (born shared by `empty`, or opened from a handle),
        the handle points at the same bytes, strides and offset kept: no copy, any size. Otherwise the elements
        are copied once into the arena (a dense tensor keeps its layout, anything else becomes contiguous). A
        CUDA tensor is copied to host shared memory (no CUDA IPC yet). With `owner`, the handle comes with one
        reference held by that owner; without, it stays valid while `obj` lives."""
        d = describe(obj)
        if d.nbytes == 0:
            return empty_handle(d)
        with self._locked():
            alloc = self._ledger.find(d.addr + d.lo, d.addr + d.hi) if d.shareable else None
            if alloc is not None:
                if owner is not None:
                    self._ref(alloc, owner)
                return make_handle(alloc.seg.name, d.addr - alloc.seg.map.base, d, d.strides)
            strides = copy_strides(d)
            alloc = self._allocate(d.nbytes)
            alloc.holds += 1  # while copying, outside the lock
        try:
            write_copy(alloc.seg.map, alloc.start, d, strides)
        except BaseException:
            with self._locked(live=False):
                alloc.holds -= 1
                self._ledger.settle(alloc)
            raise
        with self._locked(live=False):
            self._copies += 1
            self._copied_bytes += d.nbytes
            if owner is not None:
                self._ref(alloc, owner)
                alloc.holds -= 1
            else:
                self._reaper.watch(obj, ("hold", alloc))
            return make_handle(alloc.seg.name, alloc.start, d, strides)

    def empty(self, shape: Any, dtype: Any = "float32") -> Any:
        """A new uninitialized torch tensor born in shared memory: `export` sends it without a copy."""
        shape, name = typed_shape(shape, dtype)
        nbytes = math.prod(shape) * ITEMSIZE[name]
        h = TensorHandle("", 0, name, shape, contiguous_strides(shape), nbytes)
        if nbytes == 0:
            return fresh_view(h)
        with self._locked():
            alloc = self._allocate(nbytes)
            return self._view(alloc, msgspec.structs.replace(h, segment=alloc.seg.name, offset=alloc.start))

    def open(self, handle: TensorHandle) -> Any:
        """A view (torch tensor or numpy array, per handle.kind) on the handle's bytes: writes are shared.
        Only this host's live allocations open (ShmError otherwise)."""
        if handle.segment == "":
            return fresh_view(handle)
        with self._locked():
            return self._view(self._ledger.lookup(handle), handle)

    def acquire(self, target: TensorHandle | str, owner: str) -> None:
        """One more reference by `owner`: to the allocation a handle points into, or to a whole segment."""
        with self._locked():
            obj = self._target(target)
            if obj is not None:
                self._ref(obj, owner)

    def release(self, target: TensorHandle | str, owner: str) -> None:
        """Drop one reference `owner` holds (ShmError if it holds none)."""
        with self._locked():
            obj = self._target(target)
            if obj is None:
                return
            owned = self._refs.get(owner, {})
            n = owned.get(obj, 0)
            if n == 0:
                raise ShmError(f"{owner!r} holds no reference to {target!r}")
            if n > 1:
                owned[obj] = n - 1
            elif len(owned) > 1:
                del owned[obj]
            else:
                del self._refs[owner]
            obj.refs -= 1
            self._ledger.settle(obj)

    def release_owner(self, owner: str) -> int:
        """Drop every reference and grant `owner` holds (a child that exited); return how many."""
        with self._locked(live=False):
            owned = self._refs.pop(owner, {})
            for obj, n in owned.items():
                obj.refs -= n
                self._ledger.settle(obj)
            return sum(owned.values())

    def grant_slab(self, owner: str, min_bytes: int = 0) -> SlabGrant:
        """Lend `owner` a segment of at least max(min_bytes, slab_bytes) to carve its outputs from; it holds a
        segment reference until `release(grant.segment, owner)` or `release_owner(owner)`."""
        with self._locked():
            seg = self._ledger.take(max(min_bytes, self._ledger.slab_bytes), "grant")
            self._ref(seg, owner)
            return SlabGrant(seg.name, seg.map.size)

    def reserve(self, nbytes: int | None = None) -> None:
        """Create a warm (pre-faulted) segment of nbytes (default: one arena slab) now, ahead of need, and put it
        in the pool (kept while the pool has room): the first tensor that fits then costs one warm copy."""
        with self._locked():
            self._ledger.retire(self._ledger.take(nbytes or self._ledger.slab_bytes, "dedicated", ahead=True))

    def collect(self) -> None:
        """Apply pending finalizer events now (otherwise applied at the next call)."""
        with self._locked(live=False):
            pass

    def stats(self) -> ShmStats:
        with self._locked(live=False):
            segs = self._ledger.segs.values()
            live = [s for s in segs if s.live]
            allocs = [a for s in live for a in s.allocs.values() if s.kind == "slab" or not a.idle()]
            grants = {
                owner: sorted(o.name for o in owned if isinstance(o, Seg) and o.kind == "grant")
                for owner, owned in self._refs.items()
            }
            return ShmStats(
                segments=len(live),
                pooled=len(self._ledger.pool),
                bytes=sum(s.map.size for s in segs),
                allocations=len(allocs),
                views=sum(a.views for a in allocs),
                refs={owner: sum(owned.values()) for owner, owned in self._refs.items()},
                grants={owner: names for owner, names in grants.items() if names},
                copies=self._copies,
                copied_bytes=self._copied_bytes,
                allocations_total=self._allocations_total,
            )

    def close(self) -> None:
        """Unlink every segment this host created (idempotent). Live views stay readable until they die."""
        with self._locked(live=False):
            if not self._closed:
                self._closed = True
                self._ledger.destroy_all()
                self._refs.clear()
                if self.directory != SHM_DIR:
                    remove_private_dir(self.directory)

    def __enter__(self) -> ShmHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _locked(self, live: bool = True) -> Iterator[None]:
        with self._reaper.lock:
            self._reaper.drain()
            if live and self._closed:
                raise ShmError("this ShmHost is closed")
            try:
                yield
            finally:
                self._reaper.drain()

    def _apply(self, event: tuple[str, Alloc]) -> None:
        what, alloc = event
        if self._closed:
            return
        if what == "view":
            alloc.views -= 1
        else:
            alloc.holds -= 1
        self._ledger.settle(alloc)

    def _allocate(self, nbytes: int) -> Alloc:
        self._allocations_total += 1
        return self._ledger.allocate(nbytes)

    def _view(self, alloc: Alloc, handle: TensorHandle) -> Any:
        view, root = make_view(alloc.seg.map, handle)
        alloc.views += 1
        self._reaper.watch(root, ("view", alloc))
        return view

    def _ref(self, obj: Seg | Alloc, owner: str) -> None:
        owned = self._refs.setdefault(owner, {})
        owned[obj] = owned.get(obj, 0) + 1
        obj.refs += 1

    def _target(self, target: TensorHandle | str) -> Seg | Alloc | None:
        if isinstance(target, TensorHandle):
            return None if target.segment == "" else self._ledger.lookup(target)
        return self._ledger.live(target)
