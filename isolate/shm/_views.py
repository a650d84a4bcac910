"""Tensors and arrays <-> bytes in a mapping: describing an object, building views, copying in.

Every view is built on a *root*: a uint8 numpy array over exactly the bytes it spans. Torch views come from
`torch.from_numpy(root)` and numpy views from `np.ndarray(buffer=root)`, so every tensor or array derived from
them (slices, .T, .numpy(), torch.from_numpy of a slice) keeps the root alive, and the root keeps a buffer
export on the mmap. A finalizer on the root therefore tells exactly when the last view of those bytes is gone.
"""

from __future__ import annotations

import math
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._segment import Mapping
from ._types import (
    ITEMSIZE,
    ShmError,
    TensorHandle,
    check_handle,
    contiguous_strides,
    dtype_name,
    extent,
    numpy_dtype,
    torch_dtype,
)

_TORCH_NAMES: dict[Any, str] = {}


class Described(NamedTuple):
    """What export needs to know about a tensor or an array."""

    obj: Any
    kind: str
    dtype: str
    shape: list[int]
    strides: list[int]  # elements (None-free); for a non-shareable object, only used to pick the copy layout
    itemsize: int
    addr: int  # address of element 0 (CPU only)
    lo: int  # byte extent relative to addr
    hi: int
    shareable: bool  # plain CPU memory that can be exported as-is if it lies in a segment

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize


def describe(obj: Any) -> Described:
    if isinstance(obj, np.ndarray):
        return _describe_numpy(obj)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _describe_torch(obj, torch)
    raise TypeError(f"cannot export {type(obj).__name__}: a torch tensor or a numpy array is expected")


def _describe_torch(t: Any, torch: Any) -> Described:
    if not _TORCH_NAMES:
        _TORCH_NAMES.update({getattr(torch, n): n for n in ITEMSIZE})
    name = _TORCH_NAMES.get(t.dtype)
    if name is None or t.layout != torch.strided:
        raise TypeError(f"cannot export a {t.dtype} {t.layout} tensor")
    shape, strides, itemsize = list(t.shape), list(t.stride()), ITEMSIZE[name]
    lo, hi = extent(shape, strides, itemsize)
    cpu = t.device.type == "cpu"
    shareable = cpu and not t.is_conj() and not t.is_neg()
    return Described(t, "torch", name, shape, strides, itemsize, t.data_ptr() if cpu else 0, lo, hi, shareable)


def _describe_numpy(a: np.ndarray) -> Described:
    name = a.dtype.name
    if name not in ITEMSIZE or a.dtype.fields is not None:
        raise TypeError(f"cannot export a numpy array of {a.dtype}")
    itemsize, shape = a.dtype.itemsize, list(a.shape)
    if all(st % itemsize == 0 for st in a.strides):
        strides = [st // itemsize for st in a.strides]
        lo, hi = extent(shape, strides, itemsize)
        shareable = a.dtype.isnative
    else:  # unaligned strides: copy
        strides, lo, hi, shareable = contiguous_strides(shape), 0, 0, False
    addr = a.__array_interface__["data"][0]
    return Described(a, "numpy", name, shape, strides, itemsize, addr, lo, hi, shareable)


def is_dense(shape: list[int], strides: list[int]) -> bool:
    """True when the elements fill one block without gaps or overlap (any dimension order)."""
    expected = 1
    for st, s in sorted((st, s) for s, st in zip(shape, strides, strict=True) if s != 1):
        if st != expected:
            return False
        expected *= s
    return True


def copy_strides(d: Described) -> list[int]:
    """Layout of the copy: a dense torch tensor keeps its strides (channels-last, transposed: one block copy);
    anything else becomes C-contiguous."""
    if d.kind == "torch" and is_dense(d.shape, d.strides):
        return d.strides
    return contiguous_strides(d.shape)


def make_handle(segment: str, offset: int, d: Described, strides: list[int]) -> TensorHandle:
    return TensorHandle(segment, offset, d.dtype, d.shape, strides, d.nbytes, d.kind)


def empty_handle(d: Described) -> TensorHandle:
    return TensorHandle("", 0, d.dtype, d.shape, contiguous_strides(d.shape), 0, d.kind)


def make_view(mapping: Mapping, h: TensorHandle) -> tuple[Any, np.ndarray]:
    """(view, root) over the handle's bytes in `mapping`; ShmError if the handle reaches outside it."""
    start, end = check_handle(h)
    if end > mapping.size:
        raise ShmError(f"handle reaches byte {end} of {h.segment} ({mapping.size} bytes)")
    root = np.frombuffer(mapping.mm, np.uint8, count=end - start, offset=start)
    itemsize = ITEMSIZE[h.dtype]
    if h.kind == "numpy":
        strides = [st * itemsize for st in h.strides]
        return np.ndarray(h.shape, numpy_dtype(h.dtype), buffer=root, offset=h.offset - start, strides=strides), root
    import torch

    flat = torch.from_numpy(root).view(torch_dtype(h.dtype))
    return flat.as_strided(h.shape, h.strides), root


def fresh_view(h: TensorHandle) -> Any:
    """A zero-size handle: a new empty tensor or array (there are no bytes to share)."""
    check_handle(h)
    if h.kind == "numpy":
        return np.empty(h.shape, numpy_dtype(h.dtype))
    import torch

    return torch.empty(h.shape, dtype=torch_dtype(h.dtype))


def write_copy(mapping: Mapping, offset: int, d: Described, strides: list[int]) -> None:
    """One copy of d's elements into mapping at offset, laid out with `strides` (from copy_strides)."""
    lo, hi = extent(d.shape, strides, d.itemsize)
    root = np.frombuffer(mapping.mm, np.uint8, count=hi - lo, offset=offset + lo)
    if d.kind == "numpy":
        dst = np.ndarray(d.shape, numpy_dtype(d.dtype), buffer=root, strides=[s * d.itemsize for s in strides])
        np.copyto(dst, d.obj)
        return
    import torch

    src = d.obj.detach()
    dst = torch.from_numpy(root).view(src.dtype)
    if strides == d.strides and d.kind == "torch":  # dense: the whole block at once
        dst.copy_(src.as_strided((dst.numel(),), (1,), src.storage_offset()))
    else:
        dst.as_strided(d.shape, strides).copy_(src)


def typed_shape(shape: Any, dtype: Any) -> tuple[list[int], str]:
    shape = [int(shape)] if isinstance(shape, int) else [int(s) for s in shape]
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in {shape}")
    return shape, dtype_name(dtype)


class Reaper:
    """Finalizer events (a view's root died, a source object died), applied under the owner's lock.

    A finalizer may run in any thread, or inside one of our own calls (a GC pass); it never blocks: it applies
    the event at once when the lock is free, else queues it for whoever holds the lock (drained on every
    public call, on the way in and out; `collect()` drains explicitly)."""

    def __init__(self, apply: Callable[[Any], None]) -> None:
        self.lock = threading.Lock()
        self._pending: deque[Any] = deque()
        self._apply = apply

    def watch(self, obj: Any, event: Any) -> None:
        weakref.finalize(obj, self.push, event).atexit = False

    def push(self, event: Any) -> None:
        self._pending.append(event)
        if self.lock.acquire(blocking=False):
            try:
                self.drain()
            finally:
                self.lock.release()

    def drain(self) -> None:
        while self._pending:
            self._apply(self._pending.popleft())
