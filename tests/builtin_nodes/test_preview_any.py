"""PreviewAny ("Preview as Text"): how each kind of value is shown, and its ui through the executor."""

from __future__ import annotations

import json

import pytest

from builtin_nodes.preview_any import PreviewAny, preview_text
from host.executor.events import ListSink
from host.executor.executor import Executor


@pytest.mark.parametrize(("source", "expected"), [
    ("as is\n", "as is\n"), ("", ""), (3, "3"), (2.5, "2.5"), (True, "True"), (False, "False"), (None, "None"),
    ({"a": [1, 2], "b": None}, json.dumps({"a": [1, 2], "b": None}, indent=4)),
    ([1, "x"], '[\n    1,\n    "x"\n]'),
    ((1, 2), "[\n    1,\n    2\n]"),
    (frozenset({7}), "frozenset({7})"),  # not JSON: str()
])
def test_preview_text(source: object, expected: str) -> None:
    assert preview_text(source) == expected


def test_unprintable_value() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert preview_text(Broken()) == "source exists, but could not be serialized."


def test_tensor_preview_and_print_options_restored() -> None:
    import torch

    text = preview_text(torch.arange(2000))  # JSON cannot encode a tensor: str() with 6 edge items
    assert text.replace("\n", "").split() == ["tensor([", "0,", "1,", "2,", "3,", "4,", "5,", "...,", "1994,",
                                              "1995,", "1996,", "1997,", "1998,", "1999])"]
    assert str(torch.arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"  # options restored


def test_main_returns_ui_only() -> None:
    assert PreviewAny().main(source={"k": 1}) == {"ui": {"text": ['{\n    "k": 1\n}']}}


async def test_preview_any_through_the_executor(registry) -> None:
    prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 5}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
              "3": {"class_type": "PrimitiveBoolean", "inputs": {"value": True}},
              "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}},
              "5": {"class_type": "EmptyImage", "inputs": {"width": 2, "height": 2, "batch_size": 1, "color": 0}},
              "6": {"class_type": "PreviewAny", "inputs": {"source": ["5", 0]}}}
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "success", result.error
    assert result.outputs["2"] == {"text": ["5"]}
    assert result.outputs["4"] == {"text": ["True"]}
    assert result.outputs["6"]["text"][0].startswith("tensor([[[[0., 0., 0.]")
