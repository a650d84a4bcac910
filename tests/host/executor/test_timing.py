"""host/executor/timing.py: per-node durations and progress steps read off a real prompt's events."""

from __future__ import annotations

import pytest

from host.executor.events import ListSink, NodeState, Progress
from host.executor.timing import TimingSink

pytestmark = pytest.mark.timeout(60)


def state(node: str, kind: str, display: str | None = None) -> NodeState:
    return NodeState("p", node, display or node, None, node, kind, 0.0, 1.0)


def test_each_finished_node_is_timed_under_its_class() -> None:
    ticks = iter([1.0, 3.5, 4.0, 4.25, 4.5, 5.0])
    inner = ListSink()
    sink = TimingSink(inner, {"1": {"class_type": "KSampler"}, "2": {"class_type": "SaveImage"}},
                      clock=lambda: next(ticks))
    for event in (state("1", "running"), Progress(1, 2, "p", "1"), Progress(2, 2, "p", "1"), state("1", "finished"),
                  state("2", "running"), state("2.0.1", "running", "2"),
                  state("2.0.1", "finished", "2"), state("2", "finished")):
        sink.emit(event)
    assert len(inner.events) == 8  # everything forwarded
    assert [(r.class_type, r.seconds, r.steps) for r in sink.records] == [
        ("KSampler", 2.5, 2), ("SaveImage", 0.25, 0), ("SaveImage", 1.0, 0)]  # the ephemeral one: its parent's


async def test_timings_of_a_real_prompt(make_executor) -> None:
    from testnodes import Show, Value

    executor, sink = make_executor({"Value": Value, "Show": Show})
    timing = TimingSink(sink, {})
    executor.sink = timing
    prompt = {"1": {"class_type": "Value", "inputs": {"v": 3}}, "2": {"class_type": "Show", "inputs": {"v": ["1", 0]}}}
    timing.prompt = prompt
    result = await executor.run(prompt, "p1")
    assert result.status == "success"
    assert sorted(r.class_type for r in timing.records) == ["Show", "Value"]
    assert all(r.seconds >= 0 for r in timing.records)
