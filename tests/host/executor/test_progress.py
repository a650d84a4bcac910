"""Progress (COMPAT §4.11): the hook routes to progress and node-state events by contextvar; interrupt from a
progress call; interrupt per prompt and global."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from testnodes import Show

from host.executor.events import ExecutionInterrupted, NodeState, Progress, ProgressPreview
from isolate.context import current_node, report_progress

HOLDER: dict[str, Any] = {}


class Steps:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, n):
        ctx = current_node()
        HOLDER["ctx"] = (ctx.prompt_id, ctx.node_id, ctx.list_index)
        for i in range(n):
            report_progress(i + 1, n, preview="img" if i == n - 1 else None)
        report_progress(0.5, None, legacy=False)
        return (n,)


class AsyncSteps:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    async def run(self, n):
        for i in range(n):
            await asyncio.sleep(0)
            report_progress(i + 1, n)
        return (n,)


class Stopper:
    """Asks for an interrupt, then reports progress: the interrupt is raised from inside that call."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT",), "target": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, n, target):
        HOLDER["set"] = HOLDER["executor"].interrupt(target or None)
        report_progress(1, 2)
        HOLDER["after"] = True
        return (n,)




NODES = {c.__name__: c for c in (Steps, AsyncSteps, Stopper, Show)}


@pytest.fixture
def ex(make_executor):
    HOLDER.clear()
    executor, sink = make_executor(NODES)
    HOLDER["executor"] = executor
    return executor, sink


async def test_progress_events_carry_prompt_and_node(ex) -> None:
    executor, sink = ex
    await executor.run({"s": {"class_type": "Steps", "inputs": {"n": 3}},
                        "o": {"class_type": "Show", "inputs": {"v": ["s", 0]}}}, "p1")
    assert HOLDER["ctx"] == ("p1", "s", 0)
    assert [(e.value, e.max, e.prompt_id, e.node) for e in sink.of(Progress)] == [
        (1, 3, "p1", "s"), (2, 3, "p1", "s"), (3, 3, "p1", "s")]  # set_progress (legacy=False) sends none
    states = [(e.state, e.value, e.max) for e in sink.of(NodeState) if e.node_id == "s"]
    assert states == [("running", 0.0, 1.0), ("running", 1, 3), ("running", 2, 3), ("running", 3, 3),
                      ("running", 0.5, None), ("finished", 1.0, 1.0)]
    [preview] = sink.of(ProgressPreview)
    assert (preview.node_id, preview.display_node_id, preview.real_node_id, preview.image) == ("s", "s", "s", "img")


async def test_async_node_progress_is_routed_by_contextvar(ex) -> None:
    executor, sink = ex
    prompt = {"a": {"class_type": "AsyncSteps", "inputs": {"n": 2}},
              "b": {"class_type": "AsyncSteps", "inputs": {"n": 3}},
              "oa": {"class_type": "Show", "inputs": {"v": ["a", 0]}},
              "ob": {"class_type": "Show", "inputs": {"v": ["b", 0]}}}
    await executor.run(prompt, "p")
    by_node = {n: [(e.value, e.max) for e in sink.of(Progress) if e.node == n] for n in ("a", "b")}
    assert by_node == {"a": [(1, 2), (2, 2)], "b": [(1, 3), (2, 3), (3, 3)]}


async def test_interrupt_raised_inside_a_progress_call(ex) -> None:
    executor, sink = ex
    result = await executor.run({"x": {"class_type": "Stopper", "inputs": {"n": 1, "target": ""}},
                                 "o": {"class_type": "Show", "inputs": {"v": ["x", 0]}}}, "p")
    assert result.status == "interrupted" and "after" not in HOLDER
    [event] = sink.of(ExecutionInterrupted)
    assert (event.node_id, event.node_type) == ("x", "Stopper")


async def test_interrupt_for_another_prompt_is_ignored(ex) -> None:
    executor, _ = ex
    result = await executor.run({"x": {"class_type": "Stopper", "inputs": {"n": 1, "target": "other"}},
                                 "o": {"class_type": "Show", "inputs": {"v": ["x", 0]}}}, "p")
    assert result.status == "success" and HOLDER["set"] is False


async def test_interrupt_for_the_running_prompt(ex) -> None:
    executor, _ = ex
    result = await executor.run({"x": {"class_type": "Stopper", "inputs": {"n": 1, "target": "mine"}},
                                 "o": {"class_type": "Show", "inputs": {"v": ["x", 0]}}}, "mine")
    assert result.status == "interrupted" and HOLDER["set"] is True


def test_progress_outside_execution_is_a_no_op() -> None:
    assert current_node() is None
    report_progress(1, 2)


async def test_v3_set_progress_updates_node_state_only(make_executor) -> None:
    from isolate.api import ComfyAPISync, io

    class V3Steps(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema("V3Steps", inputs=[io.Int.Input("n")], outputs=[io.Int.Output()])

        @classmethod
        def execute(cls, n):
            ComfyAPISync().execution.set_progress(1, 2)
            return io.NodeOutput(n)

    executor, sink = make_executor(NODES | {"V3Steps": V3Steps})
    await executor.run({"s": {"class_type": "V3Steps", "inputs": {"n": 1}},
                        "o": {"class_type": "Show", "inputs": {"v": ["s", 0]}}}, "p")
    assert sink.of(Progress) == []
    assert ("running", 1, 2) in [(e.state, e.value, e.max) for e in sink.of(NodeState) if e.node_id == "s"]
