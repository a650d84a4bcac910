"""Prompt history (COMPAT §4.12), insertion-ordered and bounded."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class History:
    def __init__(self, max_items: int = 10000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def add(self, prompt_id: str, item: dict[str, Any]) -> None:
        self._items[prompt_id] = item
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._items

    def get(self, prompt_id: str) -> dict[str, Any]:
        item = self._items.get(prompt_id)
        return {prompt_id: item} if item is not None else {}

    def page(self, max_items: int | None = None, offset: int = -1) -> dict[str, Any]:
        """ComfyUI's paging: oldest first; a negative offset with max_items gives the last max_items."""
        keys = list(self._items)
        if offset < 0 and max_items is not None:
            offset = max(0, len(keys) - max_items)
        offset = max(offset, 0)
        if offset >= len(keys) and keys:
            return {}
        end = len(keys) if max_items is None else offset + max_items
        return {k: self._items[k] for k in keys[offset:end]}

    def clear(self) -> None:
        self._items.clear()

    def delete(self, prompt_ids: list[str]) -> None:
        for prompt_id in prompt_ids:
            self._items.pop(prompt_id, None)
