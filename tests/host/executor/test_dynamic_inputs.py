"""v3 dynamic inputs through the executor: validated against the live prompt, re-nested for execute."""

from __future__ import annotations

from typing import Any

import pytest

from host.executor.errors import ValidationFailed
from isolate.api import io

SEEN: list[dict[str, Any]] = []


class Sum(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema("Sum", is_output_node=True, inputs=[
            io.Autogrow.Input("values", io.Autogrow.TemplatePrefix(io.Int.Input("v", min=0, max=100), "value", 1, 3)),
            io.DynamicCombo.Input("mode", [
                io.DynamicCombo.Option("scale", [io.Int.Input("factor", default=1, min=1, max=10)]),
                io.DynamicCombo.Option("plain", [])])],
            outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, values: dict[str, int], mode: dict[str, Any]) -> io.NodeOutput:
        SEEN.append({"values": values, "mode": mode})
        total = sum(values.values()) * mode.get("factor", 1)
        return io.NodeOutput(total, ui={"total": [total]})


class Num(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema("Num", inputs=[io.Int.Input("v")], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, v: int) -> io.NodeOutput:
        return io.NodeOutput(v)


@pytest.fixture
def ex(make_executor):
    SEEN.clear()
    return make_executor({"Sum": Sum, "Num": Num})


async def test_autogrow_and_dynamic_combo_run_nested(ex) -> None:
    executor, _ = ex
    prompt = {"n": {"class_type": "Num", "inputs": {"v": 4}},
              "s": {"class_type": "Sum", "inputs": {"values.value0": ["n", 0], "values.value1": 3,
                                                    "mode": "scale", "mode.factor": 2}}}
    result = await executor.run(prompt, "p")
    assert result.status == "success", result.error
    assert SEEN == [{"values": {"value0": 4, "value1": 3}, "mode": {"mode": "scale", "factor": 2}}]
    assert result.outputs["s"] == {"total": [14]}


async def test_dynamic_inputs_are_validated_against_the_live_prompt(ex) -> None:
    executor, _ = ex
    with pytest.raises(ValidationFailed) as info:
        await executor.validate({"s": {"class_type": "Sum", "inputs": {"values.value0": 500, "mode": "scale",
                                                                       "mode.factor": 2}}})
    [err] = info.value.node_errors["s"].errors
    assert (err.type, err.details) == ("value_bigger_than_max", "values.value0")
    with pytest.raises(ValidationFailed) as info:
        await executor.validate({"s": {"class_type": "Sum", "inputs": {"mode": "scale", "mode.factor": 2}}})
    assert [e.details for e in info.value.node_errors["s"].errors] == ["values.value0"]  # min 1 member
    with pytest.raises(ValidationFailed) as info:
        await executor.validate({"s": {"class_type": "Sum", "inputs": {"values.value0": 1, "mode": "nope"}}})
    assert info.value.node_errors["s"].errors[0].type == "value_not_in_list"
