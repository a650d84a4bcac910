"""ComfySwitchNode: a lazy switch; only the chosen branch runs."""

from __future__ import annotations

import pytest

from host.executor.events import Executing, ListSink
from host.executor.executor import Executor


@pytest.mark.parametrize(("switch", "expected"), [(True, "on"), (False, "off")])
async def test_switch_runs_only_the_chosen_branch(registry, switch: bool, expected: str) -> None:
    prompt = {"on": {"class_type": "PrimitiveString", "inputs": {"value": "on"}},
              "off": {"class_type": "PrimitiveString", "inputs": {"value": "off"}},
              "sw": {"class_type": "ComfySwitchNode", "inputs": {"switch": switch, "on_true": ["on", 0],
                                                                 "on_false": ["off", 0]}},
              "show": {"class_type": "PreviewAny", "inputs": {"source": ["sw", 0]}}}
    sink = ListSink()
    result = await Executor(registry, sink).run(prompt, "p")
    assert result.status == "success" and result.outputs["show"]["text"] == [expected]
    ran = {e.node for e in sink.of(Executing)}
    assert expected in ran and ({"on", "off"} - {expected}).isdisjoint(ran)
