"""NodeDef from a v1 class: every COMPAT §5.1 attribute read, options passed through untouched."""

from __future__ import annotations

import msgspec
import pytest

from isolate.nodedef import NODEDEF_DECODER, encode_nodedef
from isolate.v1 import nodedef_from_v1


class Wild(str):
    def __ne__(self, other: object) -> bool:
        return False


class Full:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {"a": ("INT", {"default": 3, "min": 0, "max": 9, "widgetType": "x"}),
                         "mode": (["one", "two"], {"default": "one"}),
                         "any": (Wild("*"),)},
            "optional": {"lz": ("IMAGE", {"lazy": True}), "raw": ("LATENT", {"rawLink": True})},
            "hidden": {"uid": "UNIQUE_ID", "loop": ("*",)},
        }

    RETURN_TYPES = ("INT", "IMAGE")
    RETURN_NAMES = ("number", "pic")
    OUTPUT_IS_LIST = (False, True)
    OUTPUT_TOOLTIPS = ("n", "p")
    FUNCTION = "go"
    CATEGORY = "test/cat"
    OUTPUT_NODE = True
    INPUT_IS_LIST = True
    NOT_IDEMPOTENT = True
    DESCRIPTION = "desc"
    DEPRECATED = True
    EXPERIMENTAL = True

    @classmethod
    def IS_CHANGED(cls, **kw):
        return 1

    @classmethod
    def VALIDATE_INPUTS(cls, a, input_types, **kwargs):
        return True

    def check_lazy_status(self, **kw):
        return []

    async def go(self, **kw):
        return (1, [])


def test_every_v1_attribute_is_read() -> None:
    nd = nodedef_from_v1("Full", Full, "Full Node", python_module="custom_nodes.pack", origin="pack")
    slots = {s.name: s for s in nd.inputs}
    assert slots["a"].options == {"default": 3, "min": 0, "max": 9, "widgetType": "x"}
    assert slots["mode"].type == "COMBO" and slots["mode"].combo == ["one", "two"]
    assert slots["any"].any_type and not slots["a"].any_type
    assert slots["lz"].lazy and slots["lz"].section == "optional"
    assert slots["raw"].raw_link
    assert slots["uid"].hidden_kind == "UNIQUE_ID"
    assert slots["loop"].hidden_kind is None and slots["loop"].type == "*"
    assert [(o.type, o.name, o.is_list, o.tooltip) for o in nd.outputs] == [
        ("INT", "number", False, "n"), ("IMAGE", "pic", True, "p")]
    assert (nd.output_node, nd.input_is_list, nd.not_idempotent, nd.is_async) == (True, True, True, True)
    assert nd.has_fingerprint and nd.has_check_lazy and nd.has_validate
    assert nd.validate_params == ["a"] and nd.validate_kwargs and nd.validate_wants_input_types
    info = nd.info
    assert info["input"]["required"]["mode"] == [["one", "two"], {"default": "one"}]
    assert info["input"]["hidden"] == {"uid": "UNIQUE_ID", "loop": ["*"]}
    assert info["input_order"] == {"required": ["a", "mode", "any"], "optional": ["lz", "raw"],
                                   "hidden": ["uid", "loop"]}
    assert info["output_name"] == ["number", "pic"] and info["output_is_list"] == [False, True]
    assert info["display_name"] == "Full Node" and info["category"] == "test/cat"
    assert info["deprecated"] is True and info["experimental"] is True and "api_node" not in info
    assert info["output_tooltips"] == ["n", "p"] and info["python_module"] == "custom_nodes.pack"


def test_nodedef_is_pure_data_and_round_trips() -> None:
    nd = nodedef_from_v1("Full", Full)
    assert NODEDEF_DECODER.decode(encode_nodedef(nd)) == nd
    assert msgspec.json.decode(encode_nodedef(nd))["name"] == "Full"


def test_minimal_class_defaults() -> None:
    class Min:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = ("IMAGE",)
        FUNCTION = "run"

        def run(self):
            return (None,)

    nd = nodedef_from_v1("Min", Min)
    assert nd.category == "sd" and nd.display_name == "Min" and not nd.output_node
    assert nd.info["output_name"] == ["IMAGE"] and nd.info["description"] == ""
    assert "deprecated" not in nd.info and "output_tooltips" not in nd.info


def test_missing_function_is_a_clear_error() -> None:
    class Bad:
        @classmethod
        def INPUT_TYPES(cls):
            return {}

        RETURN_TYPES = ()
        FUNCTION = "nope"

    with pytest.raises(TypeError, match="FUNCTION 'nope'"):
        nodedef_from_v1("Bad", Bad)


def test_only_true_wildcards_are_any_type() -> None:
    import enum

    from isolate.nodedef import is_any_type

    class IO(str, enum.Enum):
        ANY = "*"
        IMAGE = "IMAGE"

        def __ne__(self, other: object) -> bool:
            return False if self.value == "*" else str.__ne__(self, other)

    assert is_any_type("*") and is_any_type(Wild("x")) and is_any_type(IO.ANY)
    assert not is_any_type("IMAGE") and not is_any_type(IO.IMAGE)
