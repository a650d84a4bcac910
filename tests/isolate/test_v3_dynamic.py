"""v3 dynamic inputs: their /object_info, their NodeDef declaration, finalize_inputs and build_nested_inputs."""

from __future__ import annotations

from typing import Any

import pytest

from isolate.api import io
from isolate.calls import NodeCall
from isolate.local_runner import LocalRunner
from isolate.v3 import nodedef_from_v3
from isolate.v3_dynamic import build_nested_inputs, finalize_inputs

SEEN: list[dict[str, Any]] = []


class Dyn(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            "Dyn", inputs=[
                io.Autogrow.Input("values", io.Autogrow.TemplatePrefix(io.Int.Input("v", default=0), "value", 1, 3)),
                io.DynamicCombo.Input("mode", [
                    io.DynamicCombo.Option("scale", [io.Float.Input("factor", default=1.0)]),
                    io.DynamicCombo.Option("grow", [io.Autogrow.Input("extra", io.Autogrow.TemplateNames(
                        io.String.Input("s", optional=True), ["a", "b"], min=0))]),
                    io.DynamicCombo.Option("none", [])]),
                io.DynamicSlot.Input(io.Image.Input("img"), [io.Int.Input("size", default=8)]),
                io.Boolean.Input("flag")],
            outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, **kwargs: Any) -> io.NodeOutput:
        SEEN.append(kwargs)
        return io.NodeOutput(sum(kwargs["values"].values()))


def names(slots) -> list[str]:
    return [s.name for s in slots]


def test_dynamic_inputs_render_their_templates_in_object_info() -> None:
    info = nodedef_from_v3(Dyn).info
    required = info["input"]["required"]
    assert required["values"] == ["COMFY_AUTOGROW_V3", {"template": {
        "input": {"required": {"v": ["INT", {"default": 0, "forceInput": True}]}},
        "prefix": "value", "min": 1, "max": 3}}]
    mode_type, mode_opts = required["mode"]
    assert mode_type == "COMFY_DYNAMICCOMBO_V3" and [o["key"] for o in mode_opts["options"]] == [
        "scale", "grow", "none"]
    assert mode_opts["options"][0]["inputs"] == {"required": {"factor": ["FLOAT", {"default": 1.0}]}}
    grow = mode_opts["options"][1]["inputs"]["required"]["extra"]
    assert grow == ["COMFY_AUTOGROW_V3", {"template": {
        "input": {"required": {}, "optional": {"s": ["STRING", {"multiline": False, "forceInput": True}]}},
        "names": ["a", "b"], "min": 0}}]
    assert mode_opts["options"][2]["inputs"] == {"required": {}}
    assert info["input"]["optional"]["img"] == ["COMFY_DYNAMICSLOT_V3", {
        "slotType": "IMAGE", "inputs": {"required": {"size": ["INT", {"default": 8}]}}}]
    assert info["input_order"] == {"required": ["values", "mode", "flag"], "optional": ["img"]}


def test_nodedef_declares_dynamic_slots_as_data() -> None:
    nd = nodedef_from_v3(Dyn)
    assert nd.has_dynamic and not nodedef_from_v3(Plain).has_dynamic
    values, mode, img, flag = nd.inputs
    assert values.dynamic["kind"] == "autogrow" and values.dynamic["names"] == ["value0", "value1", "value2"]
    assert values.dynamic["template"]["type"] == "INT" and values.dynamic["template"]["options"]["forceInput"]
    assert mode.combo == ["scale", "grow", "none"] and mode.dynamic["kind"] == "combo"
    assert img.section == "optional" and img.dynamic["slot"]["type"] == "IMAGE"
    assert flag.dynamic is None


class Plain(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema("Plain", inputs=[io.Int.Input("a")])

    @classmethod
    def execute(cls, a: int) -> io.NodeOutput:
        return io.NodeOutput()


def test_finalize_without_dynamic_inputs_is_the_declaration() -> None:
    nd = nodedef_from_v3(Plain)
    assert finalize_inputs(nd, {"a": 1}) is nd.inputs


def test_finalize_expands_autogrow_combo_option_and_connected_slot() -> None:
    nd = nodedef_from_v3(Dyn)
    live = {"values.value0": 1, "mode": "scale", "mode.factor": 2.0, "img": ["5", 0], "img.size": 3, "flag": True}
    slots = finalize_inputs(nd, live)
    assert names(slots) == ["values.value0", "values.value1", "values.value2", "mode", "mode.factor", "img",
                            "img.size", "flag"]
    by = {s.name: s for s in slots}
    assert [by[f"values.value{i}"].section for i in range(3)] == ["required", "optional", "optional"]
    assert by["values.value1"].type == "INT" and by["values.value1"].group == "values"
    assert by["values.value1"].path == "values.value1" and by["values.value1"].options["forceInput"]
    assert by["mode"].path == "mode.mode" and by["mode"].combo == ["scale", "grow", "none"]
    assert by["mode.factor"].path == "mode.factor" and by["mode.factor"].type == "FLOAT"
    assert by["img"].type == "IMAGE" and by["img"].path == "img.img" and by["img"].section == "optional"
    assert by["img.size"].path == "img.size" and by["flag"].path is None
    assert all(s.dynamic is None for s in slots)


def test_finalize_nested_autogrow_and_unknown_or_missing_choices() -> None:
    nd = nodedef_from_v3(Dyn)
    grow = finalize_inputs(nd, {"mode": "grow"})
    assert names(grow) == ["values.value0", "values.value1", "values.value2", "mode", "mode.extra.a",
                           "mode.extra.b", "flag"]  # no DynamicSlot: "img" is not given
    extra = [s for s in grow if s.group == "mode.extra"]
    assert [s.section for s in extra] == ["optional", "optional"]
    for bad in ({"mode": "nope"}, {"mode": ["3", 0]}, {}):
        assert names(finalize_inputs(nd, bad))[3:] == ["mode", "flag"]  # the selector stays, to be validated


def test_build_nested_inputs_from_finalized_slots() -> None:
    nd = nodedef_from_v3(Dyn)
    live = {"flag": True, "values.value1": 5, "values.value0": 1, "mode": "scale", "mode.factor": 2.0}
    nested = build_nested_inputs(live, finalize_inputs(nd, live))
    assert nested == {"flag": True, "values": {"value0": 1, "value1": 5}, "mode": {"mode": "scale", "factor": 2.0}}
    assert list(nested["values"]) == ["value0", "value1"]  # slot order, not prompt order
    empty = {"mode": "grow", "flag": False}
    assert build_nested_inputs(empty, finalize_inputs(nd, empty)) == {
        "flag": False, "values": {}, "mode": {"mode": "grow", "extra": {}}}


def test_build_nested_inputs_with_keys_for_check_lazy_status() -> None:
    nd = nodedef_from_v3(Dyn)
    live = {"values.value0": None, "mode": "none", "flag": True}
    nested = build_nested_inputs(live, finalize_inputs(nd, live), with_keys=True)
    assert nested == {"flag": True, "values": {"value0": (None, "values.value0")},
                      "mode": {"mode": ("none", "mode")}}
    grow = {"mode": "grow"}
    assert build_nested_inputs(grow, finalize_inputs(nd, grow), with_keys=True)["mode"]["extra"] == (
        {}, "mode.extra")


def test_build_nested_inputs_from_keys_alone() -> None:
    assert build_nested_inputs({"a": 1}) == {"a": 1}
    assert build_nested_inputs({"m": "k", "m.a": 1, "g.x.y": 2, "z": 0}) == {
        "z": 0, "m": {"m": "k", "a": 1}, "g": {"x": {"y": 2}}}


def test_runner_executes_with_nested_inputs() -> None:
    SEEN.clear()
    nd = nodedef_from_v3(Dyn)
    runner = LocalRunner()
    runner.add(nd, Dyn)
    live = {"values.value0": 2, "values.value2": 5, "mode": "none", "flag": False}
    res = runner.execute(NodeCall("p", "1", "Dyn", 0, live, {}))  # the runner re-nests the flat inputs
    assert res.values == (7,) and SEEN == [{"values": {"value0": 2, "value2": 5}, "mode": {"mode": "none"},
                                            "flag": False}]


# -- MatchType and declaration errors ---------------------------------------------------------------------------

def test_matchtype_outputs_and_templates() -> None:
    template = io.MatchType.Template("t", [io.Image, io.Mask])
    assert template.as_dict() == {"template_id": "t", "allowed_types": "IMAGE,MASK"}
    assert io.MatchType.Template("u").as_dict()["allowed_types"] == "*"
    with pytest.raises(ValueError, match="ComfyTypes"):
        io.MatchType.Template("bad", ["IMAGE"])

    class Pass(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema("Pass", inputs=[io.MatchType.Input("x", template)],
                             outputs=[io.MatchType.Output(template), io.Int.Output()])

        @classmethod
        def execute(cls, x):
            return io.NodeOutput(x, 1)

    nd = nodedef_from_v3(Pass)
    assert nd.info["output_matchtypes"] == ["t", None] and nd.info["output_name"] == ["MATCHTYPE", "INT"]
    assert nd.outputs[0].type == "COMFY_MATCHTYPE_V3" and not nd.has_dynamic
    assert nd.inputs[0].options == {"template": {"template_id": "t", "allowed_types": "IMAGE,MASK"}}


def test_dynamic_declaration_errors() -> None:
    with pytest.raises(ValueError, match="max"):
        io.Autogrow.TemplatePrefix(io.Int.Input("v"), "v", max=101)
    with pytest.raises(TypeError, match="template"):
        io.Autogrow.TemplatePrefix(io.Autogrow.Input("x", io.Autogrow.TemplateNames(io.Int.Input("v"), ["a"])), "v")
    with pytest.raises(TypeError, match="slot"):
        io.DynamicSlot.Input(io.DynamicSlot.Input(io.Image.Input("i"), []), [])
    combo = io.DynamicCombo.Input("c", [io.DynamicCombo.Option("a", []), io.DynamicCombo.Option("a", [])])
    with pytest.raises(ValueError, match="option keys"):
        io.Schema("N", inputs=[combo]).validate()
    twice = io.DynamicCombo.Input("c", [io.DynamicCombo.Option("a", [io.Int.Input("x"), io.Int.Input("x")])])
    with pytest.raises(ValueError, match="unique"):
        io.Schema("N", inputs=[twice]).validate()
    assert len(io.Autogrow.TemplateNames(io.Int.Input("v"), [f"n{i}" for i in range(150)]).names) == 100


def test_autogrow_get_all_lists_its_members() -> None:
    grow = io.Autogrow.Input("g", io.Autogrow.TemplatePrefix(io.Int.Input("v"), "n", min=0, max=2))
    assert [i.id for i in grow.get_all()] == ["g", "n0", "n1"]
    slot = io.DynamicSlot.Input(io.Int.Input("s", tooltip="t"), [io.Int.Input("k")], display_name="S")
    assert [i.id for i in slot.get_all()] == ["s", "k"] and slot.optional and slot.display_name == "S"
    assert slot.as_dict()["forceInput"] is True and slot.tooltip == "t"
