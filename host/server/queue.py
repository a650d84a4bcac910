"""The prompt queue (ComfyUI's PromptQueue): a heap by (number, prompt_id), one item running at a time."""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

import msgspec

SENSITIVE_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


class QueueItem(msgspec.Struct):
    number: float
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]
    sensitive: dict[str, Any] = {}
    validated: Any = None  # the ValidatedPrompt (in memory only)
    #: times it was queued again after its worker was lost mid-prompt (in memory only)
    attempts: int = 0

    def wire(self) -> list[Any]:
        """``[number, prompt_id, prompt, extra_data, outputs_to_execute]`` with sensitive keys removed."""
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs]


class PromptQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str, QueueItem]] = []
        self.running: dict[str, QueueItem] = {}
        self._ready = asyncio.Event()
        self.counter = 0

    def next_number(self, front: bool = False) -> float:
        self.counter += 1
        return -self.counter if front else self.counter

    def put(self, item: QueueItem) -> None:
        heapq.heappush(self._heap, (item.number, item.prompt_id, item))
        self._ready.set()

    async def get(self) -> QueueItem:
        while not self._heap:
            self._ready.clear()
            await self._ready.wait()
        _, _, item = heapq.heappop(self._heap)
        self.running[item.prompt_id] = item
        return item

    def done(self, item: QueueItem) -> None:
        self.running.pop(item.prompt_id, None)

    def __contains__(self, prompt_id: object) -> bool:
        """Queued or running."""
        return prompt_id in self.running or any(entry[1] == prompt_id for entry in self._heap)

    def pending(self) -> list[QueueItem]:
        return [entry[2] for entry in self._heap]  # heap order, as ComfyUI returns it

    def remaining(self) -> int:
        return len(self._heap) + len(self.running)

    def wipe(self) -> None:
        self._heap.clear()

    def delete(self, prompt_ids: set[str]) -> int:
        before = len(self._heap)
        self._heap = [e for e in self._heap if e[1] not in prompt_ids]
        heapq.heapify(self._heap)
        return before - len(self._heap)
