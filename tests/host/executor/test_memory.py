"""Issue 15 item 1: a finished prompt's tensors are freed by reference counting (no reference cycle keeps
them until the collector runs), whether the prompt succeeded, failed or was interrupted."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from host.executor.caches import make_cache
from host.executor.events import ListSink
from host.executor.executor import Executor

pytestmark = pytest.mark.timeout(60)

MADE: list[weakref.ref[torch.Tensor]] = []


class MakeTensor:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seed": ("INT",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, seed):
        t = torch.full((1, 16, 16, 3), float(seed % 7) / 7)
        MADE.append(weakref.ref(t))
        return (t,)


class Step:
    """Inverts its image; with ``fail`` it raises (holding the tensor in its frame), with ``stop`` it asks the
    executor to interrupt."""

    executor: Any = None

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "mode": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, image, mode):
        out = 1.0 - image
        MADE.append(weakref.ref(out))
        if mode == "fail":
            raise ValueError("failing with a tensor in the frame")
        if mode == "stop":
            type(self).executor.interrupt()
        return (out,)


class Sink:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, image):
        return {"ui": {"mean": [float(image.mean())]}}


def chain(seed: int, mode_at: int = -1, mode: str = "", length: int = 6) -> dict[str, Any]:
    prompt: dict[str, Any] = {"0": {"class_type": "MakeTensor", "inputs": {"seed": seed}}}
    for i in range(1, length):
        prompt[str(i)] = {"class_type": "Step", "inputs": {"image": [str(i - 1), 0],
                                                          "mode": mode if i == mode_at else ""}}
    prompt["out"] = {"class_type": "Sink", "inputs": {"image": [str(length - 1), 0]}}
    return prompt


@pytest.fixture
def no_gc() -> Iterator[None]:
    MADE.clear()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def executor(make_registry) -> Executor:
    ex = Executor(make_registry({"MakeTensor": MakeTensor, "Step": Step, "Sink": Sink}), ListSink(),
                  make_cache(none=True))
    Step.executor = ex
    return ex


def alive() -> int:
    return sum(1 for ref in MADE if ref() is not None)


@pytest.mark.parametrize(("mode_at", "mode", "status"), [(-1, "", "success"), (3, "fail", "error"),
                                                         (3, "stop", "interrupted")])
async def test_a_finished_prompt_frees_its_tensors_without_the_collector(executor: Executor, no_gc: None,
                                                                        mode_at: int, mode: str,
                                                                        status: str) -> None:
    result = await executor.run(chain(1, mode_at, mode), "p1")
    assert result.status == status
    assert MADE, "the nodes ran"
    assert alive() == 0, f"{alive()} of {len(MADE)} tensors outlive the prompt (a reference cycle holds them)"


async def test_the_classic_cache_keeps_only_the_latest_prompt(make_registry, no_gc: None) -> None:
    ex = Executor(make_registry({"MakeTensor": MakeTensor, "Step": Step, "Sink": Sink}), ListSink())
    for seed in range(1, 5):
        assert (await ex.run(chain(seed), f"p{seed}")).status == "success"
    assert alive() == 6, "only the last prompt's six outputs stay cached"
