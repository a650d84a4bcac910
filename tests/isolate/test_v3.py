"""Our v3 API: schema -> NodeDef, hidden values on a class clone, NodeOutput normalisation."""

from __future__ import annotations

from isolate.api import ComfyExtension, io
from isolate.calls import NodeCall
from isolate.local_runner import LocalRunner
from isolate.v3 import nodedef_from_v3


class Mixed(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="Mixed", display_name="Mixed Node", category="test", is_output_node=True,
            inputs=[io.Int.Input("n", default=2, min=0, max=9, lazy=True),
                    io.Combo.Input("mode", options=["a", "b"]),
                    io.Boolean.Input("flag", optional=True, label_on="yes"),
                    io.AnyType.Input("anything", optional=True, raw_link=True)],
            outputs=[io.Int.Output(display_name="count", tooltip="how many"), io.Mask.Output(is_output_list=True)],
            hidden=[io.Hidden.unique_id])

    @classmethod
    def validate_inputs(cls, n):
        return True

    @classmethod
    def execute(cls, n, mode, flag=False, anything=None) -> io.NodeOutput:
        return io.NodeOutput(n * 2, [cls.hidden.unique_id], ui={"text": [mode]})


def test_schema_to_nodedef() -> None:
    nd = nodedef_from_v3(Mixed, python_module="custom_nodes.x")
    slots = {s.name: s for s in nd.inputs}
    assert slots["n"].lazy and slots["n"].options == {"default": 2, "min": 0, "max": 9, "lazy": True}
    assert slots["mode"].combo == ["a", "b"] and slots["flag"].section == "optional"
    assert slots["anything"].any_type and slots["anything"].raw_link
    assert {s.name: s.hidden_kind for s in nd.inputs if s.section == "hidden"} == {
        "unique_id": "UNIQUE_ID", "prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
    assert nd.has_validate and nd.validate_params == ["n"] and not nd.has_fingerprint
    info = nd.info
    assert info["input"]["required"]["mode"] == ["COMBO", {"multiselect": False, "options": ["a", "b"]}]
    assert info["input"]["hidden"]["unique_id"] == ["UNIQUE_ID"]
    assert info["output_name"] == ["count", "MASK"] and info["output_tooltips"] == ["how many", None]
    assert info["output_is_list"] == [False, True] and info["output_matchtypes"] is None
    assert info["deprecated"] is False and info["api_node"] is False and info["python_module"] == "custom_nodes.x"


def test_execute_sets_hidden_on_a_clone() -> None:
    runner = LocalRunner()
    nd = nodedef_from_v3(Mixed)
    runner.add(nd, Mixed)
    res = runner.execute(NodeCall("p", "42", "Mixed", 0, {"n": 3, "mode": "b"}, {"UNIQUE_ID": "42"}))
    assert res.values == (6, ["42"]) and res.ui == {"text": ["b"]}
    assert Mixed.hidden.unique_id is None  # the class itself is untouched


async def test_extension_defaults() -> None:
    class Ext(ComfyExtension):
        async def get_node_list(self):
            return [Mixed]

    assert await Ext().get_node_list() == [Mixed]
    assert await ComfyExtension().on_load() is None


def test_node_output_from_dict() -> None:
    out = io.NodeOutput.from_dict({"result": (1, 2), "ui": {"a": [1]}})
    assert out.values == (1, 2) and out.ui == {"a": [1]} and out.result == (1, 2)
