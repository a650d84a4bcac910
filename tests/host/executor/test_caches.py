"""Cache strategies (COMPAT §4.9): CLASSIC, LRU(N), RAM pressure, none; chosen by ComfyUI's flags."""

from __future__ import annotations

from typing import Any

import pytest
from testnodes import Show

from host.executor.caches import (
    CacheEntry,
    ClassicCache,
    LRUCache,
    NullCache,
    RAMPressureCache,
    estimate_bytes,
    make_cache,
)
from host.executor.events import ListSink
from host.executor.executor import Executor

CALLS: list[tuple[str, Any]] = []


class Value:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def __init__(self):
        self.runs = 0

    def run(self, v):
        self.runs += 1
        CALLS.append(("Value", (v, self.runs)))
        return (v,)




NODES = {"Value": Value, "Show": Show}


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


def prompt(v: int) -> dict:
    return {"1": {"class_type": "Value", "inputs": {"v": v}}, "2": {"class_type": "Show", "inputs": {"v": ["1", 0]}}}


def runs(v: int) -> int:
    return len([c for c in CALLS if c[1][0] == v])


def test_make_cache_follows_comfyui_flag_precedence() -> None:
    assert isinstance(make_cache(), ClassicCache) and type(make_cache()) is ClassicCache
    assert isinstance(make_cache(lru=3), LRUCache) and make_cache(lru=3).max_size == 3
    assert isinstance(make_cache(ram_gb=2.0), RAMPressureCache)
    assert isinstance(make_cache(none=True), NullCache)
    assert isinstance(make_cache(lru=2, ram_gb=1.0, none=True), LRUCache)


async def test_classic_keeps_only_what_the_current_prompt_uses(make_registry) -> None:
    ex = Executor(make_registry(NODES), ListSink())
    await ex.run(prompt(1), "a")
    await ex.run(prompt(2), "b")
    await ex.run(prompt(1), "c")
    assert runs(1) == 2 and runs(2) == 1


async def test_lru_keeps_entries_across_prompts(make_registry) -> None:
    ex = Executor(make_registry(NODES), ListSink(), make_cache(lru=10))
    for v in (1, 2, 1, 2):
        await ex.run(prompt(v), str(v))
    assert runs(1) == 1 and runs(2) == 1


async def test_lru_evicts_the_oldest_prompts_entries(make_registry) -> None:
    ex = Executor(make_registry(NODES), ListSink(), make_cache(lru=2))
    for v in (1, 2, 3, 1):  # each prompt adds 2 entries; max 2 -> only the latest prompt's survive
        await ex.run(prompt(v), str(v))
    assert runs(1) == 2 and runs(2) == 1 and runs(3) == 1


def test_lru_never_evicts_entries_of_the_current_prompt() -> None:
    cache = LRUCache(max_size=1)
    cache.begin_prompt([])
    cache.set(1, CacheEntry([[1]], None))
    cache.set(2, CacheEntry([[2]], None))
    cache.begin_prompt([1, 2])
    assert cache.get(1) is not None and cache.get(2) is not None
    cache.begin_prompt([])
    assert len(cache) == 1 and cache.get(2) is not None


async def test_none_reruns_everything_and_drops_instances(make_registry) -> None:
    ex = Executor(make_registry(NODES), ListSink(), make_cache(none=True))
    await ex.run(prompt(1), "a")
    result = await ex.run(prompt(1), "b")
    assert CALLS == [("Value", (1, 1)), ("Value", (1, 1))]  # a fresh instance each prompt
    assert result.outputs == {"2": {"v": [1]}} and ex.instances == {}


async def test_classic_keeps_one_instance_per_node(make_registry) -> None:
    ex = Executor(make_registry(NODES), ListSink())
    await ex.run(prompt(1), "a")
    await ex.run(prompt(2), "b")
    assert CALLS == [("Value", (1, 1)), ("Value", (2, 2))]


class FakeRam:
    def __init__(self, free: float) -> None:
        self.free = free
        self.checks = 0

    def __call__(self) -> float:
        self.checks += 1
        return self.free


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ram_pressure_evicts_old_entries_when_memory_is_low() -> None:
    import numpy as np

    ram, clock = FakeRam(free=10.0), Clock()
    cache = RAMPressureCache(4.0, free_ram=ram, clock=clock)
    cache.begin_prompt([])
    cache.set(1, CacheEntry([[np.zeros(1000)]], None))
    cache.set(2, CacheEntry([[np.zeros(10)]], None))
    cache.begin_prompt([2])  # next prompt uses entry 2 only
    ram.free = 1.0
    clock.now = 1.0
    evicted_before = ram.checks

    def free_after_evict() -> float:
        return 1.0 if 1 in cache.keys() else 5.0

    cache.free_ram = free_after_evict
    cache.after_node()
    assert cache.get(1) is None and cache.get(2) is not None  # the old, big entry goes first
    assert evicted_before >= 1


def test_ram_pressure_checks_at_most_every_interval() -> None:
    ram, clock = FakeRam(free=10.0), Clock()
    cache = RAMPressureCache(4.0, free_ram=ram, clock=clock, interval=0.1)
    cache.begin_prompt([])
    checks = ram.checks
    for _ in range(50):
        cache.after_node()  # same instant: no new check
    assert ram.checks == checks
    clock.now = 0.2
    cache.after_node()
    assert ram.checks == checks + 1


def test_estimate_bytes() -> None:
    import numpy as np

    assert estimate_bytes([[np.zeros(4, dtype=np.float32)], {"a": np.zeros(2, dtype=np.int64)}]) == 32
    assert estimate_bytes(["text", 3]) == 0
