"""Nodes that take inputs they do not declare (COMPAT §4.4): an INPUT_TYPES section that claims every name
(rgthree-comfy's ``FlexibleOptionalInputType``: Power Puter reads its ``code`` widget from it) and a v3 schema
with ``accept_all_inputs``. ComfyUI's ``get_input_data`` passes such a node every constant of its prompt node,
as it passes every link; a plain node still gets only what it declares."""

from __future__ import annotations

from typing import Any

import pytest
from testnodes import Value

from isolate.api import io
from isolate.v1 import nodedef_from_v1

pytestmark = pytest.mark.timeout(60)

SEEN: list[tuple[str, dict[str, Any]]] = []


class EveryName(dict):
    """A dict that answers ``in`` for every name, each typed ``*`` (the shape rgthree's pack uses)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> tuple[str]:
        return ("*",)


class Flexible:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}, "optional": EveryName()}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, **kwargs):
        SEEN.append(("Flexible", kwargs))
        return {}


class Plain:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, **kwargs):
        SEEN.append(("Plain", kwargs))
        return {}


class V3All(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3All", inputs=[io.Int.Input("v")], is_output_node=True, accept_all_inputs=True)

    @classmethod
    def execute(cls, **kwargs):
        SEEN.append(("V3All", kwargs))
        return io.NodeOutput()


NODES = {c.__name__: c for c in (Value, Flexible, Plain, V3All)}


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


def test_only_a_section_claiming_every_name_is_flagged() -> None:
    assert nodedef_from_v1("Flexible", Flexible).accepts_any_input
    assert not nodedef_from_v1("Plain", Plain).accepts_any_input


async def test_undeclared_constants_reach_the_node_that_takes_any_name(make_executor) -> None:
    executor, _ = make_executor(NODES)
    prompt = {"1": {"class_type": "Value", "inputs": {"v": 4}},
              "f": {"class_type": "Flexible", "inputs": {"code": "a * 3", "a": ["1", 0], "n": 2}},
              "p": {"class_type": "Plain", "inputs": {"v": ["1", 0], "extra": "dropped"}},
              "3": {"class_type": "V3All", "inputs": {"v": 1, "mode": "fast"}}}
    result = await executor.run(prompt, "p1")
    assert result.status == "success", result.error
    seen = dict(SEEN)
    assert seen["Flexible"] == {"code": "a * 3", "a": 4, "n": 2}
    assert seen["Plain"] == {"v": 4}
    assert seen["V3All"] == {"v": 1, "mode": "fast"}


async def test_an_undeclared_constant_is_part_of_the_cache_key(make_executor) -> None:
    executor, _ = make_executor(NODES)
    await executor.run({"f": {"class_type": "Flexible", "inputs": {"code": "1"}}}, "p1")
    await executor.run({"f": {"class_type": "Flexible", "inputs": {"code": "2"}}}, "p2")
    assert [kw["code"] for _, kw in SEEN] == ["1", "2"]
