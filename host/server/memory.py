"""Giving a finished prompt's memory back: a rate-limited full collection after each prompt (as ComfyUI's
worker does, at most every ``interval`` seconds), and on glibc ``malloc_trim`` so freed tensor memory leaves
the process instead of staying in the allocator's heap (measured: 100 freed 3 MB tensors kept RSS 300 MB up
until trimmed)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


class Collector:
    """``after_prompt()`` collects when ``interval`` seconds have passed since the last collection;
    ``now()`` always does (``/free``)."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last = -float("inf")
        self.collections = 0
        self._trim: Callable[[int], int] | None | bool = False  # False: not looked up yet

    def after_prompt(self) -> bool:
        if self.clock() - self.last < self.interval:
            return False
        self.now()
        return True

    def now(self) -> None:
        gc.collect()
        if self._trim is False:
            self._trim = _find_trim()
        if callable(self._trim):
            self._trim(0)
        self.last = self.clock()
        self.collections += 1
