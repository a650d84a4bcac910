"""Validation (COMPAT §3.2, §3.3): each bad input gets its typed error in ComfyUI's shapes."""

from __future__ import annotations

import copy
import sys

import pytest

from host.executor.errors import ValidationFailed
from host.executor.validation import validate_prompt
from host.registry import Registry


class StubImage:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"content": (["WHITE", "BLACK", "NOISE"],),
                             "height": ("INT", {"default": 512, "min": 1, "max": 1024}),
                             "width": ("INT", {"default": 512, "min": 1, "max": 1024}),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 1024})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, **kw):
        return (None,)


class Checked:
    """VALIDATE_INPUTS naming one input and asking for input_types."""

    seen: list = []

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "value": ("INT", {"min": 0, "max": 10})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def VALIDATE_INPUTS(cls, image, value, input_types):
        cls.seen.append((image, value, input_types))
        return True if value != 99 else "value must not be 99"

    def run(self, image, value):
        return (image,)


class Kwargs:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"min": 0, "max": 10})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    async def VALIDATE_INPUTS(cls, **kwargs):
        return True if kwargs["value"] < 1000 else "too big"

    def run(self, value):
        return (value,)


class TypesOnly:
    """VALIDATE_INPUTS taking only input_types (as a pack's class decorator adds it): it checks the link itself."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        return True if input_types.get("image") == "IMAGE" else f"image must be an IMAGE, not {input_types['image']}"

    def run(self, image):
        return (image,)


class Loop:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, image):
        return (image,)


TEST_NODES = {"StubImage": StubImage, "Checked": Checked, "Kwargs": Kwargs, "Loop": Loop, "TypesOnly": TypesOnly}


@pytest.fixture
def reg(make_registry) -> Registry:
    return make_registry(TEST_NODES)


async def rejected(prompt, reg: Registry, targets=None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        await validate_prompt(prompt, reg, targets)
    return info.value


def save(src: str = "1", slot: int = 0) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": [src, slot], "filename_prefix": "x"}}


def empty(**inputs) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0} | inputs}


async def test_node_not_an_object(reg: Registry) -> None:
    err = await rejected({"1": 5}, reg)
    assert err.body() == {"error": {"type": "invalid_prompt", "message":
                                    "Cannot execute because a node is missing the class_type property.",
                                    "details": "Node ID '#1'", "extra_info": {}}, "node_errors": {}}


async def test_missing_class_type(reg: Registry) -> None:
    err = await rejected({"1": {"inputs": {}}}, reg)
    assert err.error.type == "invalid_prompt" and "class_type" in err.error.message


async def test_unknown_class_type(reg: Registry) -> None:
    err = await rejected({"7": {"class_type": "Nope", "inputs": {}}}, reg)
    assert err.error.message == "Cannot execute because node Nope does not exist."
    assert err.error.details == "Node ID '#7'"


async def test_inputs_not_an_object(reg: Registry) -> None:
    err = await rejected({"1": {"class_type": "EmptyImage", "inputs": [1, 2]}}, reg)
    assert err.error.type == "invalid_prompt"


async def test_prompt_not_an_object(reg: Registry) -> None:
    assert (await rejected([1], reg)).error.type == "invalid_prompt"


async def test_empty_prompt_has_no_outputs(reg: Registry) -> None:
    err = await rejected({}, reg)
    assert err.body()["error"] == {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                                   "details": "", "extra_info": {}}


async def test_prompt_without_output_node(reg: Registry) -> None:
    assert (await rejected({"1": empty()}, reg)).error.type == "prompt_no_outputs"


async def test_partial_targets_select_outputs(reg: Registry) -> None:
    prompt = {"1": empty(), "2": save(), "3": save()}
    assert (await validate_prompt(prompt, reg, ["3", "1"])).outputs == ["3"]
    assert (await rejected(prompt, reg, [])).error.type == "prompt_no_outputs"
    assert (await rejected(prompt, reg, ["1"])).error.type == "prompt_no_outputs"


async def test_comfyui_verified_example(reg: Registry) -> None:
    """COMPAT §3.3's observed 400: three errors on the image node, one on SaveImage, both dependent on s."""
    prompt = {"i": {"class_type": "StubImage", "inputs": {"content": "PURPLE", "height": 99999999999,
                                                          "width": "abc", "batch_size": 1}},
              "s": {"class_type": "SaveImage", "inputs": {"images": ["i", 0]}}}
    err = await rejected(prompt, reg)
    body = err.body()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["error"]["message"] == "Prompt outputs failed validation"
    assert body["error"]["details"] == "Required input is missing: filename_prefix"
    i_errors = body["node_errors"]["i"]
    assert sorted(e["type"] for e in i_errors["errors"]) == [
        "invalid_input_type", "value_bigger_than_max", "value_not_in_list"]
    assert i_errors["dependent_outputs"] == ["s"] and i_errors["class_type"] == "StubImage"
    assert body["node_errors"]["s"] == {
        "errors": [{"type": "required_input_missing", "message": "Required input is missing",
                    "details": "filename_prefix", "extra_info": {"input_name": "filename_prefix"}}],
        "dependent_outputs": ["s"], "class_type": "SaveImage"}
    by_type = {e["type"]: e for e in i_errors["errors"]}
    assert by_type["value_bigger_than_max"]["message"] == "Value 99999999999 bigger than max of 1024"
    assert by_type["value_bigger_than_max"]["extra_info"] == {
        "input_name": "height", "input_config": ["INT", {"default": 512, "min": 1, "max": 1024}],
        "received_value": 99999999999}
    assert by_type["invalid_input_type"]["message"] == "Failed to convert an input value to a INT value"
    assert by_type["value_not_in_list"]["details"] == "content: 'PURPLE' not in ['WHITE', 'BLACK', 'NOISE']"
    assert by_type["value_not_in_list"]["extra_info"]["input_config"] == [["WHITE", "BLACK", "NOISE"], {}]


async def test_value_smaller_than_min(reg: Registry) -> None:
    err = await rejected({"1": empty(width=0), "2": save()}, reg)
    [e] = err.node_errors["1"].errors
    assert (e.type, e.message, e.details) == ("value_smaller_than_min", "Value 0 smaller than min of 1", "width")


async def test_long_combo_list_is_summarised() -> None:
    class Big:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"pick": ([str(i) for i in range(30)],)}}

        RETURN_TYPES = ()
        FUNCTION = "run"
        OUTPUT_NODE = True

        def run(self, pick):
            return ()

    reg = Registry()
    from isolate.local_runner import LocalRunner
    reg.add_classes({"Big": Big}, LocalRunner())
    err = await rejected({"1": {"class_type": "Big", "inputs": {"pick": "x"}}}, reg)
    [e] = err.node_errors["1"].errors
    assert e.details == "pick: 'x' not in (list of length 30)" and e.extra_info["input_config"] is None


async def test_bad_link_arity(reg: Registry) -> None:
    err = await rejected({"1": empty(), "2": {"class_type": "SaveImage", "inputs": {
        "images": ["1", 0, 1], "filename_prefix": "x"}}}, reg)
    [e] = err.node_errors["2"].errors
    assert e.type == "bad_linked_input"
    assert e.message == "Bad linked input, must be a length-2 list of [node_id, slot_index]"
    assert e.extra_info["received_value"] == ["1", 0, 1]


async def test_link_to_missing_node(reg: Registry) -> None:
    err = await rejected({"2": save("nope")}, reg)
    [e] = err.node_errors["2"].errors
    assert e.type == "exception_during_validation" and "'nope'" in e.details


async def test_link_output_index_out_of_range(reg: Registry) -> None:
    err = await rejected({"1": empty(), "2": save("1", 3)}, reg)
    [e] = err.node_errors["2"].errors
    assert e.type == "exception_during_validation" and "output 3" in e.details


async def test_return_type_mismatch(reg: Registry) -> None:
    prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 3}}, "2": save("1")}
    err = await rejected(prompt, reg)
    [e] = err.node_errors["2"].errors
    assert e.type == "return_type_mismatch"
    assert e.details == "images, received_type(INT) mismatch input_type(IMAGE)"
    assert e.extra_info["linked_node"] == ["1", 0] and e.extra_info["received_type"] == "INT"


async def test_static_cycle_is_a_400_not_a_recursion_error(reg: Registry) -> None:
    prompt = {"a": {"class_type": "ImageInvert", "inputs": {"image": ["b", 0]}},
              "b": {"class_type": "ImageInvert", "inputs": {"image": ["a", 0]}},
              "s": save("a")}
    err = await rejected(prompt, reg)
    assert err.error.type == "prompt_outputs_failed_validation"
    assert {e.type for nid in ("a", "b") for e in err.node_errors[nid].errors} == {"dependency_cycle"}
    assert err.node_errors["a"].dependent_outputs == ["s"]


async def test_self_loop_on_output_node(reg: Registry) -> None:
    err = await rejected({"l": {"class_type": "Loop", "inputs": {"image": ["l", 0]}}}, reg)
    assert err.node_errors["l"].errors[0].type == "dependency_cycle"


async def test_partial_validity_runs_good_outputs(reg: Registry) -> None:
    prompt = {"1": empty(), "2": save("1"), "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}
    result = await validate_prompt(prompt, reg)
    assert result.outputs == ["2"]
    assert list(result.node_errors) == ["3"] and result.node_errors["3"].dependent_outputs == ["3"]


async def test_invalid_upstream_marks_downstream_without_its_own_error(reg: Registry) -> None:
    prompt = {"1": empty(width=-5), "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": save("2")}
    err = await rejected(prompt, reg)
    assert set(err.node_errors) == {"1"} and err.node_errors["1"].dependent_outputs == ["3"]


async def test_coerced_copy_leaves_prompt_untouched(reg: Registry) -> None:
    prompt = {"1": empty(width=8.7, height="9"), "2": save(), "3": {"class_type": "PrimitiveString",
                                                                     "inputs": {"value": 12}}}
    before = copy.deepcopy(prompt)
    result = await validate_prompt(prompt, reg)
    assert prompt == before
    assert result.prompt["1"]["inputs"]["width"] == 8 and result.prompt["1"]["inputs"]["height"] == 9


async def test_value_wrapper_is_unwrapped(reg: Registry) -> None:
    prompt = {"1": empty(width={"__value__": 16}), "2": save()}
    assert (await validate_prompt(prompt, reg)).prompt["1"]["inputs"]["width"] == 16


async def test_validate_inputs_gets_links_as_none_and_input_types(reg: Registry) -> None:
    Checked.seen.clear()
    prompt = {"1": empty(), "2": {"class_type": "Checked", "inputs": {"image": ["1", 0], "value": 50}},
              "3": save("2")}
    await validate_prompt(prompt, reg)  # 50 > max 10, but VALIDATE_INPUTS names "value": no range check
    assert Checked.seen == [(None, 50, {"image": "IMAGE"})]


async def test_validate_inputs_failure_is_custom_validation_failed(reg: Registry) -> None:
    prompt = {"1": empty(), "2": {"class_type": "Checked", "inputs": {"image": ["1", 0], "value": 99}},
              "3": save("2")}
    err = await rejected(prompt, reg)
    errors = err.node_errors["2"].errors
    assert {e.type for e in errors} == {"custom_validation_failed"}
    assert [e.details for e in errors] == ["image - value must not be 99", "value - value must not be 99",
                                           "input_types - value must not be 99"]
    assert errors[0].message == "Custom validation failed for node"


async def test_input_types_skips_the_type_check(reg: Registry) -> None:
    prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 1}},
              "2": {"class_type": "Checked", "inputs": {"image": ["1", 0], "value": 1}}, "3": save("2")}
    await validate_prompt(prompt, reg)
    assert Checked.seen[-1][2] == {"image": "INT"}


async def test_async_validate_inputs_with_kwargs(reg: Registry) -> None:
    ok = {"1": {"class_type": "Kwargs", "inputs": {"value": 500}}, "2": {"class_type": "PreviewImage",
                                                                        "inputs": {"images": ["3", 0]}},
          "3": empty()}
    await validate_prompt(ok, reg)  # **kwargs: value is not range-checked
    bad = {"1": {"class_type": "Kwargs", "inputs": {"value": 5000}},
           "s": {"class_type": "Loop", "inputs": {"image": ["3", 0]}}, "3": empty(),
           "x": {"class_type": "Checked", "inputs": {"image": ["3", 0], "value": ["1", 0]}},
           "y": {"class_type": "Loop", "inputs": {"image": ["x", 0]}}}
    result = await validate_prompt(bad, reg)
    assert result.outputs == ["s"] and result.node_errors["1"].errors[0].details == "value - too big"


async def test_undeclared_inputs_are_not_validated(reg: Registry) -> None:
    prompt = {"1": empty(extra="anything", other=["nope", 0]), "2": save()}
    assert (await validate_prompt(prompt, reg)).outputs == ["2"]


async def test_hundred_thousand_chain_validates_without_recursion(reg: Registry) -> None:
    n = 100_000
    prompt = {"0": empty()}
    for i in range(1, n + 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["s"] = save(str(n))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        result = await validate_prompt(prompt, reg)
    finally:
        sys.setrecursionlimit(old)
    assert result.outputs == ["s"] and len(result.order) == n + 2


async def test_validate_inputs_with_only_input_types_is_called(reg: Registry) -> None:
    """ComfyUI calls VALIDATE_INPUTS whenever it declares a parameter, input_types alone included."""
    prompt = {"1": {"class_type": "PrimitiveFloat", "inputs": {"value": 1.5}},
              "2": {"class_type": "TypesOnly", "inputs": {"image": ["1", 0]}}}
    err = await rejected(prompt, reg)
    assert err.body()["node_errors"]["2"]["errors"] == [{
        "type": "custom_validation_failed", "message": "Custom validation failed for node",
        "details": "input_types - image must be an IMAGE, not FLOAT", "extra_info": {"input_name": "input_types"}}]
    good = {"1": empty(), "2": {"class_type": "TypesOnly", "inputs": {"image": ["1", 0]}}}
    await validate_prompt(good, reg)
