"""First-fit allocation inside one slab, with coalescing of free extents."""

from __future__ import annotations

import bisect


class FreeList:
    """Free extents of a slab, sorted by offset. Sizes are multiples of the caller's alignment."""

    __slots__ = ("size", "_free")

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[tuple[int, int]] = [(0, size)]  # (offset, length)

    def alloc(self, n: int) -> int | None:
        for i, (off, length) in enumerate(self._free):
            if length >= n:
                if length == n:
                    del self._free[i]
                else:
                    self._free[i] = (off + n, length - n)
                return off
        return None

    def free(self, off: int, n: int) -> None:
        i = bisect.bisect_left(self._free, (off, 0))
        if i < len(self._free) and off + n == self._free[i][0]:  # merge with the next extent
            n += self._free.pop(i)[1]
        if i > 0 and self._free[i - 1][0] + self._free[i - 1][1] == off:  # and with the previous one
            prev_off, prev_len = self._free[i - 1]
            self._free[i - 1] = (prev_off, prev_len + n)
        else:
            self._free.insert(i, (off, n))

    @property
    def empty(self) -> bool:
        return self._free == [(0, self.size)]

    @property
    def free_bytes(self) -> int:
        return sum(length for _, length in self._free)
