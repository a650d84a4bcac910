"""What crosses the process boundary (handles, grants), the stats Struct, errors and the dtype table."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np

ALIGN = 64  # every allocation and carve starts on a cache line

# torch dtype names (without "torch.") -> item size in bytes; numpy arrays use the same names
ITEMSIZE: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "complex128": 16, "complex64": 8,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1,
    "bool": 1,
}  # fmt: skip
_NO_NUMPY = {"bfloat16"}
KINDS = ("torch", "numpy")


class TensorHandle(msgspec.Struct, frozen=True):
    """Where a tensor's bytes lie in shared memory; never the data itself.

    segment: file name under /dev/shm ("" for a zero-size tensor, which needs no bytes).
    offset: byte offset of element [0, ..., 0] in the segment.
    dtype: torch dtype name without "torch." ("float32", "bfloat16", "bool", ...).
    shape, strides: strides in elements (numpy arrays may have negative ones).
    nbytes: numel * itemsize (a strided view may span more).
    kind: "torch" or "numpy": what `open` returns.
    """

    segment: str
    offset: int
    dtype: str
    shape: list[int]
    strides: list[int]
    nbytes: int
    kind: str = "torch"


class SlabGrant(msgspec.Struct, frozen=True):
    """A host segment lent to a child, which carves its outputs from it (bump allocation)."""

    segment: str
    size: int


class ShmStats(msgspec.Struct, frozen=True):
    """A snapshot of a ShmHost, for tests and diagnostics."""

    segments: int  # live segments (slabs, dedicated, granted)
    pooled: int  # free, warm segments kept for reuse
    bytes: int  # bytes of every segment this host has in /dev/shm (live + pooled)
    allocations: int  # live allocations
    views: int  # live host-side views (tensors/arrays from empty/open)
    refs: dict[str, int]  # owner -> references held
    grants: dict[str, list[str]]  # owner -> granted segments
    copies: int  # exports that copied (monotonic)
    copied_bytes: int
    allocations_total: int  # allocations ever made (monotonic)


class ShmError(Exception):
    """A shared-memory operation failed: unknown or stale handle, segment gone, /dev/shm full, closed."""


class SlabExhausted(ShmError):
    """No granted slab has room for `needed` bytes: ask the host for a slab (grant_slab) and retry."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"no granted slab has room for {needed} bytes")
        self.needed = needed


def round_up(n: int, to: int) -> int:
    return -(-n // to) * to


def numpy_dtype(name: str) -> np.dtype:
    if name in _NO_NUMPY:
        raise TypeError(f"numpy has no {name}")
    return np.dtype(name)


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def dtype_name(dtype: Any) -> str:
    """'float32', torch.float32 or np.float32 -> 'float32' (TypeError for anything outside the table)."""
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.")
    elif str(dtype).startswith("torch."):
        name = str(dtype)[len("torch.") :]
    else:
        name = np.dtype(dtype).name
    if name not in ITEMSIZE:
        raise TypeError(f"dtype {dtype!r} cannot cross shared memory")
    return name


def contiguous_strides(shape: list[int]) -> list[int]:
    strides, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = acc
        acc *= max(shape[d], 1)
    return strides


def extent(shape: list[int], strides: list[int], itemsize: int) -> tuple[int, int]:
    """Bytes [lo, hi) spanned relative to element [0, ..., 0]; (0, 0) when there is no element."""
    if math.prod(shape) == 0:
        return 0, 0
    lo = sum((s - 1) * st for s, st in zip(shape, strides, strict=True) if st < 0)
    hi = sum((s - 1) * st for s, st in zip(shape, strides, strict=True) if st > 0)
    return lo * itemsize, (hi + 1) * itemsize


def check_handle(h: TensorHandle) -> tuple[int, int]:
    """Validate a handle's fields (it may come from another process); return its absolute byte range."""
    itemsize = ITEMSIZE.get(h.dtype)
    if itemsize is None or h.kind not in KINDS or (h.kind == "numpy" and h.dtype in _NO_NUMPY):
        raise ShmError(f"bad handle: dtype {h.dtype!r} kind {h.kind!r}")
    if len(h.shape) != len(h.strides) or any(s < 0 for s in h.shape) or h.offset < 0:
        raise ShmError(f"bad handle: shape {h.shape} strides {h.strides} offset {h.offset}")
    if h.kind == "torch" and any(st < 0 for st in h.strides):
        raise ShmError("bad handle: negative strides in a torch handle")
    if h.nbytes != math.prod(h.shape) * itemsize:
        raise ShmError(f"bad handle: nbytes {h.nbytes} for shape {h.shape} of {h.dtype}")
    lo, hi = extent(h.shape, h.strides, itemsize)
    if h.offset + lo < 0:
        raise ShmError("bad handle: strides reach before the segment")
    return h.offset + lo, h.offset + hi
