"""Output caches (COMPAT §4.9). Keys come from signature.py; each class here is one retention policy."""

from __future__ import annotations

import gc
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True)
class CacheEntry:
    """A node's outputs: per output slot, the list of values its calls produced; plus its merged ui."""

    values: list[list[Any]]
    ui: dict[str, Any] | None


class OutputCache(Protocol):
    #: False for the ``none`` strategy: node instances are then dropped at the end of every prompt
    keeps_instances: bool

    def begin_prompt(self, keys: Iterable[int]) -> None:
        """Called at prompt start with every key this prompt can use."""

    def get(self, key: int) -> CacheEntry | None: ...

    def set(self, key: int, entry: CacheEntry) -> None: ...

    def after_node(self) -> None:
        """Called after each node; a policy may free memory here."""

    def clear(self) -> None: ...

    def keys(self) -> Iterable[int]: ...


class ClassicCache:
    """ComfyUI's default: only entries the current prompt can use survive from one prompt to the next."""

    keeps_instances = True

    def __init__(self) -> None:
        self._entries: dict[int, CacheEntry] = {}

    def begin_prompt(self, keys: Iterable[int]) -> None:
        old = self._entries
        self._entries = {k: old[k] for k in keys if k in old}

    def get(self, key: int) -> CacheEntry | None:
        return self._entries.get(key)

    def set(self, key: int, entry: CacheEntry) -> None:
        self._entries[key] = entry

    def after_node(self) -> None:
        return None

    def clear(self) -> None:
        self._entries.clear()

    def keys(self) -> Iterable[int]:
        return self._entries.keys()

    def __len__(self) -> int:
        return len(self._entries)


class NullCache(ClassicCache):
    """``--cache-none``: nothing is kept; a run still passes outputs to its consumers."""

    keeps_instances = False

    def set(self, key: int, entry: CacheEntry) -> None:
        return None


class LRUCache(ClassicCache):
    """``--cache-lru N``: entries kept across prompts; at prompt start the least recently used entries of
    earlier prompts are evicted while more than ``max_size`` remain."""

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size
        self._entries: OrderedDict[int, CacheEntry] = OrderedDict()  # type: ignore[assignment]
        self._generation: dict[int, int] = {}
        self.generation = 0

    def begin_prompt(self, keys: Iterable[int]) -> None:
        self.generation += 1
        for key in keys:
            if key in self._entries:
                self._touch(key)
        self.evict()

    def evict(self) -> None:
        entries = self._entries
        while len(entries) > self.max_size:
            oldest = next(iter(entries))
            if self._generation[oldest] >= self.generation:
                break
            del entries[oldest]
            del self._generation[oldest]

    def _touch(self, key: int) -> None:
        self._entries.move_to_end(key)
        self._generation[key] = self.generation

    def get(self, key: int) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._touch(key)
        return entry

    def set(self, key: int, entry: CacheEntry) -> None:
        self._entries[key] = entry
        self._touch(key)

    def clear(self) -> None:
        super().clear()
        self._generation.clear()


def available_ram_gb() -> float:
    """Free memory as the kernel reports it (MemAvailable), in GB."""
    from host.runtime import memory_bytes

    return memory_bytes()[1] / 1024**3


def estimate_bytes(value: Any, depth: int = 0) -> int:
    """RAM held by a cached value: tensors and arrays by their buffer size, containers summed."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if depth > 4:
        return 0
    if isinstance(value, dict):
        return sum(estimate_bytes(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(estimate_bytes(v, depth + 1) for v in value)
    return 0


class RAMPressureCache(LRUCache):
    """``--cache-ram GB``: no size cap; when free RAM drops under ``min_free_gb`` (checked at most every
    ``interval`` seconds), collect garbage, then evict by ``1.3 ** age_in_prompts * size`` until more than
    1.1x ``min_free_gb`` is free (or nothing from earlier prompts is left)."""

    def __init__(self, min_free_gb: float, free_ram: Callable[[], float] = available_ram_gb,
                 interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_size=0)
        self.min_free_gb = min_free_gb
        self.free_ram = free_ram
        self.interval = interval
        self.clock = clock
        self._last_check = float("-inf")

    def begin_prompt(self, keys: Iterable[int]) -> None:
        self.generation += 1
        for key in keys:
            if key in self._entries:
                self._touch(key)
        self._last_check = float("-inf")
        self.after_node()

    def after_node(self) -> None:
        now = self.clock()
        if now - self._last_check < self.interval:
            return
        self._last_check = now
        if self.free_ram() >= self.min_free_gb:
            return
        gc.collect()
        target = self.min_free_gb * 1.1
        victims = sorted(
            (k for k in self._entries if self._generation[k] < self.generation),
            key=lambda k: -(1.3 ** (self.generation - self._generation[k])) * estimate_bytes(self._entries[k].values))
        for key in victims:
            if self.free_ram() > target:
                break
            del self._entries[key]
            del self._generation[key]


def make_cache(lru: int | None = None, ram_gb: float | None = None, none: bool = False) -> OutputCache:
    """The strategy ComfyUI's flags choose: ``--cache-lru N`` (N > 0), else ``--cache-ram``, else
    ``--cache-none``, else CLASSIC."""
    if lru:
        return LRUCache(lru)
    if ram_gb is not None:
        return RAMPressureCache(ram_gb)
    if none:
        return NullCache()
    return ClassicCache()
