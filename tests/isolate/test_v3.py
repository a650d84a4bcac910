"""Our v3 API: schema -> NodeDef, hidden values on a class clone, NodeOutput, the v1 view of a v3 class."""

from __future__ import annotations

import enum

import pytest

from isolate.api import io
from isolate.calls import NodeCall
from isolate.graph_utils import ExecutionBlocker
from isolate.local_runner import LocalRunner
from isolate.v3 import nodedef_from_v3


class Mixed(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="Mixed", display_name="Mixed Node", category="test", is_output_node=True,
            description="does things",
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
    assert nd.has_validate and nd.validate_params == ["n"] and not nd.has_fingerprint and not nd.has_dynamic
    info = nd.info
    assert info["input"]["required"]["mode"] == ["COMBO", {"multiselect": False, "options": ["a", "b"]}]
    assert info["input"]["optional"]["flag"] == ["BOOLEAN", {"label_on": "yes"}]
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


def test_hidden_holder_reads_unknown_attributes_as_none() -> None:
    holder = io.HiddenHolder.from_kinds({"UNIQUE_ID": "7", io.Hidden.prompt: {"1": {}}})
    assert holder.unique_id == "7" and holder.prompt == {"1": {}} and holder.comfy_usage_source is None
    with pytest.raises(AttributeError):
        holder.__no_such_dunder__  # noqa: B018


def test_node_output_from_dict_and_blockers() -> None:
    out = io.NodeOutput.from_dict({"result": (1, 2), "ui": {"a": [1]}})
    assert out.values == (1, 2) and out.args == (1, 2) and out.ui == {"a": [1]} and out.result == (1, 2)
    assert out[1] == 2 and io.NodeOutput().result is None
    assert io.NodeOutput.from_dict({"result": ExecutionBlocker("stop")}).block_execution == "stop"
    assert "block_execution='x'" in repr(io.NodeOutput(block_execution="x"))


# -- Schema ------------------------------------------------------------------------------------------------

def test_finalize_adds_hidden_values_and_output_ids() -> None:
    schema = io.Schema("N", is_api_node=True, is_output_node=True, hidden=[io.Hidden.prompt],
                       outputs=[io.Image.Output(), io.Int.Output("count"), io.Latent.Output()])
    schema.finalize()
    assert schema.hidden == [io.Hidden.prompt, io.Hidden.auth_token_comfy_org, io.Hidden.api_key_comfy_org,
                             io.Hidden.extra_pnginfo]
    assert [o.id for o in schema.outputs] == ["_0_IMAGE_", "count", "_2_LATENT_"]
    assert schema.outputs[1].display_name == "count"  # display name falls back to the given id


def test_validate_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=r"Input ids must be unique, but \['a'\]"):
        io.Schema("N", inputs=[io.Int.Input("a"), io.Float.Input("a")]).validate()
    with pytest.raises(ValueError, match="Output ids"):
        io.Schema("N", outputs=[io.Int.Output("x"), io.Int.Output("x")]).validate()
    with pytest.raises(ValueError, match="io.Hidden"):
        io.Schema("N", hidden=["PROMPT"]).validate()
    io.Schema("N", inputs=[io.Int.Input("a")], outputs=[io.Int.Output("a")]).validate()  # separate namespaces


# -- inputs and types -----------------------------------------------------------------------------------------

class Color(enum.Enum):
    red = "red"
    blue = "blue"


def test_widget_option_dicts() -> None:
    assert io.Int.Input("i", display_name="I", tooltip="t", default=1, min=0, max=5, step=1,
                        control_after_generate=io.ControlAfterGenerate.randomize,
                        display_mode=io.NumberDisplay.slider, socketless=True, force_input=True,
                        extra_dict={"extra": 1, "gone": None}, raw_link=True, advanced=True).as_dict() == {
        "display_name": "I", "tooltip": "t", "rawLink": True, "advanced": True, "extra": 1, "default": 1,
        "socketless": True, "forceInput": True, "min": 0, "max": 5, "step": 1,
        "control_after_generate": "randomize", "display": "slider"}
    assert io.Float.Input("f", default=1.0, round=False).as_dict() == {"default": 1.0, "round": False}
    assert io.String.Input("s", multiline=True, placeholder="p", dynamic_prompts=True).as_dict() == {
        "multiline": True, "placeholder": "p", "dynamicPrompts": True}
    assert io.Boolean.Input("b", default=False, label_off="no").as_dict() == {"default": False, "label_off": "no"}


def test_combo_inputs() -> None:
    combo = io.Combo.Input("c", Color, default=Color.blue, upload=io.UploadType.image,
                           image_folder=io.FolderType.input, control_after_generate=True,
                           remote=io.RemoteOptions("/models", refresh_button=True))
    assert combo.as_dict() == {
        "default": "blue", "multiselect": False, "options": ["red", "blue"], "control_after_generate": True,
        "image_upload": True, "image_folder": "input",
        "remote": {"route": "/models", "refresh_button": True, "control_after_refresh": "first"}}
    multi = io.MultiCombo.Input("m", ["x", "y"], default=["x"], placeholder="pick", chip=True)
    assert multi.get_io_type() == "COMBO"
    assert multi.as_dict() == {"default": ["x"], "multiselect": True, "options": ["x", "y"],
                               "multi_select": {"placeholder": "pick", "chip": True}}
    assert io.Combo.Output(options=["a"]).options == ["a"]


def test_multiselect_combo_slot_is_not_checked_against_a_list() -> None:
    class Pick(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema("Pick", inputs=[io.MultiCombo.Input("m", ["x", "y"]), io.Combo.Input("c", ["x"])],
                             outputs=[io.Combo.Output(options=["p", "q"])])

        @classmethod
        def execute(cls, m, c):
            return io.NodeOutput(m[0])

    nd = nodedef_from_v3(Pick)
    assert [s.combo for s in nd.inputs] == [None, ["x"]]
    assert nd.outputs[0].type == "COMBO" and nd.outputs[0].combo == ["p", "q"]


IO_TYPES = {
    "Boolean": "BOOLEAN", "Int": "INT", "Float": "FLOAT", "String": "STRING", "Combo": "COMBO",
    "MultiCombo": "COMBO", "Image": "IMAGE", "Mask": "MASK", "Latent": "LATENT", "Conditioning": "CONDITIONING",
    "Sampler": "SAMPLER", "Sigmas": "SIGMAS", "Noise": "NOISE", "Guider": "GUIDER", "Clip": "CLIP",
    "ControlNet": "CONTROL_NET", "Vae": "VAE", "Model": "MODEL", "ClipVision": "CLIP_VISION",
    "ClipVisionOutput": "CLIP_VISION_OUTPUT", "StyleModel": "STYLE_MODEL", "Gligen": "GLIGEN",
    "UpscaleModel": "UPSCALE_MODEL", "LatentUpscaleModel": "LATENT_UPSCALE_MODEL", "Audio": "AUDIO",
    "Video": "VIDEO", "SVG": "SVG", "LoraModel": "LORA_MODEL", "LossMap": "LOSS_MAP", "Voxel": "VOXEL",
    "Mesh": "MESH", "Hooks": "HOOKS", "HookKeyframes": "HOOK_KEYFRAMES", "TimestepsRange": "TIMESTEPS_RANGE",
    "LatentOperation": "LATENT_OPERATION", "FlowControl": "FLOW_CONTROL", "Accumulation": "ACCUMULATION",
    "Load3DCamera": "LOAD3D_CAMERA", "Load3D": "LOAD_3D", "Load3DAnimation": "LOAD_3D_ANIMATION",
    "Photomaker": "PHOTOMAKER", "Point": "POINT", "FaceAnalysis": "FACE_ANALYSIS", "BBOX": "BBOX", "SEGS": "SEGS",
    "AnyType": "*", "ModelPatch": "MODEL_PATCH", "AudioEncoder": "AUDIO_ENCODER",
    "AudioEncoderOutput": "AUDIO_ENCODER_OUTPUT", "Tracks": "TRACKS", "Webcam": "WEBCAM",
    "WanCameraEmbedding": "WAN_CAMERA_EMBEDDING", "MatchType": "COMFY_MATCHTYPE_V3",
    "Autogrow": "COMFY_AUTOGROW_V3", "DynamicCombo": "COMFY_DYNAMICCOMBO_V3", "DynamicSlot": "COMFY_DYNAMICSLOT_V3",
    "MultiType": "COMFY_MULTITYPED_V3",
}


@pytest.mark.parametrize(("name", "io_type"), IO_TYPES.items())
def test_io_type_strings(name: str, io_type: str) -> None:
    t = getattr(io, name)
    assert t.io_type == io_type and issubclass(t, io._ComfyType)
    assert t.Input.Parent is t
    if name not in ("MultiCombo", "Autogrow", "DynamicCombo", "DynamicSlot", "MultiType"):
        assert t.Output.Parent is t


def test_custom_types_and_comfytype() -> None:
    cheese = io.Custom("CHEESE")
    assert cheese.Input("c").get_io_type() == "CHEESE" and cheese.Output().get_io_type() == "CHEESE"
    assert io.Custom("OTHER").Input("o").get_io_type() == "OTHER"  # each custom type has its own binding

    @io.comfytype(io_type="WINE")
    class Wine:
        Type = str

    assert Wine.io_type == "WINE" and Wine.Input("w").io_type == "WINE" and Wine.Type is str
    assert issubclass(Wine, io.ComfyTypeIO)

    @io.comfytype(io_type="RED_WINE")
    class RedWine(Wine):
        pass

    assert RedWine.Output().get_io_type() == "RED_WINE" and Wine.Output().get_io_type() == "WINE"


def test_untyped_inputs_are_rejected() -> None:
    with pytest.raises(TypeError, match="no io type"):
        io.Input("x").get_io_type()
    with pytest.raises(TypeError, match="no io type"):
        io.Output("y").get_io_type()


def test_multitype_input() -> None:
    plain = io.MultiType.Input("x", [io.Image, io.Mask], optional=True)
    assert plain.get_io_type() == "IMAGE,MASK" and plain.as_dict() == {}
    over = io.MultiType.Input(io.Float.Input("strength", default=1.0, tooltip="s"), [io.Float, io.Int])
    assert over.id == "strength" and over.tooltip == "s"
    assert over.get_io_type() == "FLOAT,INT"
    assert over.as_dict() == {"tooltip": "s", "default": 1.0, "widgetType": "FLOAT"}


# -- the v1 view of a v3 class ---------------------------------------------------------------------------------

def test_v1_class_properties() -> None:
    assert Mixed.RETURN_TYPES == ("INT", "MASK") and Mixed.RETURN_NAMES == ("count", "MASK")
    assert Mixed.OUTPUT_IS_LIST == (False, True) and Mixed.OUTPUT_TOOLTIPS == ("how many", None)
    assert Mixed.OUTPUT_NODE is True and Mixed.INPUT_IS_LIST is False and Mixed.CATEGORY == "test"
    assert Mixed.DESCRIPTION == "does things" and Mixed.NOT_IDEMPOTENT is False and Mixed.DEPRECATED is False
    assert Mixed.EXPERIMENTAL is False and Mixed.API_NODE is False and Mixed.FUNCTION == "EXECUTE_NORMALIZED"
    types = Mixed.INPUT_TYPES()
    assert types["required"]["n"] == ("INT", {"default": 2, "min": 0, "max": 9, "lazy": True})
    assert types["hidden"] == {"unique_id": ("UNIQUE_ID",), "prompt": ("PROMPT",),
                               "extra_pnginfo": ("EXTRA_PNGINFO",)}
    assert hasattr(Mixed, "define_schema")  # the registry's v3 test
    assert Mixed.GET_NODE_INFO_V1()["display_name"] == "Mixed Node"


class Returns(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("Returns", inputs=[io.String.Input("kind")], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, kind):
        return {"none": None, "tuple": (1,), "dict": {"result": (2,)}, "block": ExecutionBlocker("no"),
                "expand": io.NodeOutput(1, expand={}), "bad": 3}[kind]


def test_execute_normalized_forms() -> None:
    assert Returns.EXECUTE_NORMALIZED(kind="none").args == ()
    assert Returns.EXECUTE_NORMALIZED(kind="tuple").args == (1,)
    assert Returns.EXECUTE_NORMALIZED(kind="dict").args == (2,)
    assert Returns.EXECUTE_NORMALIZED(kind="block").block_execution == "no"
    with pytest.raises(TypeError, match="enable_expand"):
        Returns.EXECUTE_NORMALIZED(kind="expand")
    with pytest.raises(TypeError, match="Invalid return type"):
        Returns.EXECUTE_NORMALIZED(kind="bad")


async def test_async_nodes_normalize_and_clone() -> None:
    class Later(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema("Later", outputs=[io.String.Output()])

        @classmethod
        async def execute(cls):
            return (cls.hidden.unique_id,)

    assert Later.FUNCTION == "EXECUTE_NORMALIZED_ASYNC" and nodedef_from_v3(Later).is_async
    clone = Later.PREPARE_CLASS_CLONE({"UNIQUE_ID": "5"})
    assert (await clone.EXECUTE_NORMALIZED_ASYNC()).args == ("5",) and Later.hidden.unique_id is None


def test_class_without_define_schema_is_rejected() -> None:
    class Empty(io.ComfyNode):
        @classmethod
        def execute(cls):
            return None

    with pytest.raises(TypeError, match="No define_schema"):
        Empty.GET_SCHEMA()
    assert Empty.check_lazy_status(a=None, b=1) == ["a"]
