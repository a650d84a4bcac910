"""Output caches. The key strategy (signature.py) is separate from the retention policy (here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(slots=True)
class CacheEntry:
    """A node's outputs: per output slot, the list of values its calls produced; plus its merged ui."""

    values: list[list[Any]]
    ui: dict[str, Any] | None


class OutputCache(Protocol):
    def begin_prompt(self, keys: Iterable[int]) -> None:
        """Called at prompt start with the keys this prompt can use."""

    def get(self, key: int) -> CacheEntry | None: ...

    def set(self, key: int, entry: CacheEntry) -> None: ...

    def clear(self) -> None: ...


class ClassicCache:
    """ComfyUI's default: only entries the current prompt can use survive from one prompt to the next."""

    def __init__(self) -> None:
        self._entries: dict[int, CacheEntry] = {}

    def begin_prompt(self, keys: Iterable[int]) -> None:
        old = self._entries
        self._entries = {k: old[k] for k in keys if k in old}

    def get(self, key: int) -> CacheEntry | None:
        return self._entries.get(key)

    def set(self, key: int, entry: CacheEntry) -> None:
        self._entries[key] = entry

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
