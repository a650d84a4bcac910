"""Primitive nodes: each passes its widget value through, validated against its type."""

from __future__ import annotations

from builtin_nodes.primitives import PrimitiveBoolean, PrimitiveStringMultiline
from host.executor.events import ListSink
from host.executor.executor import Executor


def test_boolean_and_multiline_pass_values_through() -> None:
    assert PrimitiveBoolean.execute(value=False).values == (False,)
    assert PrimitiveStringMultiline.execute(value="a\nb").values == ("a\nb",)


async def test_primitives_through_the_executor(registry) -> None:
    prompt = {"1": {"class_type": "PrimitiveBoolean", "inputs": {"value": False}},
              "2": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "line 1\nline 2"}},
              "3": {"class_type": "StringContains", "inputs": {"string": ["2", 0], "substring": "LINE 2",
                                                               "case_sensitive": ["1", 0]}},
              "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}}}
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "success", result.error
    assert result.outputs["4"] == {"text": ["True"]}
