"""v3 nodes render ComfyUI's /object_info entries byte for byte: schemas re-declared from reference nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from isolate.api import io
from isolate.v3 import nodedef_from_v3

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "comfyui_object_info_core.json"
MAX = 16384
ERSDE_ETA = ("Stochastic strength of reverse-time SDE.\nWhen eta=0, it reduces to deterministic ODE. This setting "
             "doesn't apply to ER-SDE solver type.")


def _schemas() -> dict[str, tuple[str, io.Schema]]:
    switch = io.MatchType.Template("switch")
    latent_tip = "The destination latent where frames will be replaced."
    source_tip = ("The source latent providing frames to insert into the destination latent. If not provided, the "
                  "destination latent is returned unchanged.")
    index_tip = ("The starting latent frame index in the destination latent where the source latent frames will be "
                 "placed. Negative values count from the end.")
    return {
        "StringConcatenate": ("comfy_extras.nodes_string", io.Schema(
            "StringConcatenate", "Concatenate", "utils/string",
            inputs=[io.String.Input("string_a", multiline=True), io.String.Input("string_b", multiline=True),
                    io.String.Input("delimiter", default="")],
            outputs=[io.String.Output()])),
        "SaveAnimatedWEBP": ("comfy_extras.nodes_images", io.Schema(
            "SaveAnimatedWEBP", category="image/animation", is_output_node=True,
            inputs=[io.Image.Input("images"), io.String.Input("filename_prefix", default="ComfyUI"),
                    io.Float.Input("fps", default=6.0, min=0.01, max=1000.0, step=0.01),
                    io.Boolean.Input("lossless", default=True), io.Int.Input("quality", default=80, min=0, max=100),
                    io.Combo.Input("method", options=["default", "fastest", "slowest"])])),
        "RebatchImages": ("comfy_extras.nodes_rebatch", io.Schema(
            "RebatchImages", "Rebatch Images", "image/batch", is_input_list=True,
            inputs=[io.Image.Input("images"), io.Int.Input("batch_size", default=1, min=1, max=4096)],
            outputs=[io.Image.Output(is_output_list=True)])),
        "PrimitiveBoolean": ("comfy_extras.nodes_primitive", io.Schema(
            "PrimitiveBoolean", "Boolean", "utils/primitive", inputs=[io.Boolean.Input("value")],
            outputs=[io.Boolean.Output()])),
        "MaskPreview": ("comfy_extras.nodes_mask", io.Schema(
            "MaskPreview", "Preview Mask", "mask", is_output_node=True, inputs=[io.Mask.Input("mask")],
            description="Saves the input images to your ComfyUI output directory.")),
        "ComfySwitchNode": ("comfy_extras.nodes_logic", io.Schema(
            "ComfySwitchNode", "Switch", "logic", is_experimental=True,
            inputs=[io.Boolean.Input("switch"), io.MatchType.Input("on_false", switch, lazy=True),
                    io.MatchType.Input("on_true", switch, lazy=True)],
            outputs=[io.MatchType.Output(switch, display_name="output")])),
        "DisableNoise": ("comfy_extras.nodes_custom_sampler", io.Schema(
            "DisableNoise", category="sampling/custom_sampling/noise", outputs=[io.Noise.Output()])),
        "GetImageSize": ("comfy_extras.nodes_images", io.Schema(
            "GetImageSize", "Get Image Size", "image", hidden=[io.Hidden.unique_id],
            description="Returns width and height of the image, and passes it through unchanged.",
            inputs=[io.Image.Input("image")],
            outputs=[io.Int.Output(display_name="width"), io.Int.Output(display_name="height"),
                     io.Int.Output(display_name="batch_size")])),
        "CustomCombo": ("comfy_extras.nodes_logic", io.Schema(
            "CustomCombo", "Custom Combo", "utils", is_experimental=True, inputs=[io.Combo.Input("choice", [])],
            outputs=[io.String.Output()])),
        "ImageColorToMask": ("comfy_extras.nodes_mask", io.Schema(
            "ImageColorToMask", category="mask",
            inputs=[io.Image.Input("image"), io.Int.Input("color", default=0, min=0, max=0xFFFFFF, step=1,
                                                          display_mode=io.NumberDisplay.number)],
            outputs=[io.Mask.Output()])),
        "SamplerCustom": ("comfy_extras.nodes_custom_sampler", io.Schema(
            "SamplerCustom", category="sampling/custom_sampling",
            inputs=[io.Model.Input("model"), io.Boolean.Input("add_noise", default=True),
                    io.Int.Input("noise_seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True),
                    io.Float.Input("cfg", default=8.0, min=0.0, max=100.0, step=0.1, round=0.01),
                    io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
                    io.Sampler.Input("sampler"), io.Sigmas.Input("sigmas"), io.Latent.Input("latent_image")],
            outputs=[io.Latent.Output(display_name="output"), io.Latent.Output(display_name="denoised_output")])),
        "SamplerER_SDE": ("comfy_extras.nodes_custom_sampler", io.Schema(
            "SamplerER_SDE", category="sampling/custom_sampling/samplers",
            inputs=[io.Combo.Input("solver_type", ["ER-SDE", "Reverse-time SDE", "ODE"]),
                    io.Int.Input("max_stage", default=3, min=1, max=3),
                    io.Float.Input("eta", default=1.0, min=0.0, max=100.0, step=0.01, round=False,
                                   tooltip=ERSDE_ETA),
                    io.Float.Input("s_noise", default=1.0, min=0.0, max=100.0, step=0.01, round=False)],
            outputs=[io.Sampler.Output()])),
        "LatentBatchSeedBehavior": ("comfy_extras.nodes_latent", io.Schema(
            "LatentBatchSeedBehavior", category="latent/advanced",
            inputs=[io.Latent.Input("samples"), io.Combo.Input("seed_behavior", ["random", "fixed"], default="fixed")],
            outputs=[io.Latent.Output()])),
        "ReplaceVideoLatentFrames": ("comfy_extras.nodes_latent", io.Schema(
            "ReplaceVideoLatentFrames", category="latent/batch",
            inputs=[io.Latent.Input("destination", tooltip=latent_tip),
                    io.Latent.Input("source", optional=True, tooltip=source_tip),
                    io.Int.Input("index", default=0, min=-MAX, max=MAX, step=1, tooltip=index_tip)],
            outputs=[io.Latent.Output()])),
        "SamplingPercentToSigma": ("comfy_extras.nodes_custom_sampler", io.Schema(
            "SamplingPercentToSigma", category="sampling/custom_sampling/sigmas",
            inputs=[io.Model.Input("model"),
                    io.Float.Input("sampling_percent", default=0.0, min=0.0, max=1.0, step=0.0001),
                    io.Boolean.Input("return_actual_sigma", default=False,
                                     tooltip="Return the actual sigma value instead of the value used for interval "
                                             "checks.\nThis only affects results at 0.0 and 1.0.")],
            outputs=[io.Float.Output(display_name="sigma_value")])),
    }


def _node(schema: io.Schema) -> type[io.ComfyNode]:
    def define_schema(cls: Any) -> io.Schema:
        return schema

    def execute(cls: Any, **kwargs: Any) -> io.NodeOutput:
        return io.NodeOutput()

    return type(schema.node_id, (io.ComfyNode,), {"define_schema": classmethod(define_schema),
                                                  "execute": classmethod(execute)})


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/ reference data not beside the checkout")
@pytest.mark.parametrize("name", list(_schemas()))
def test_v3_object_info_matches_comfyui_byte_for_byte(name: str) -> None:
    reference = json.loads(REFERENCE.read_text())[name]
    module, schema = _schemas()[name]
    info = nodedef_from_v3(_node(schema), python_module=module).info
    assert json.loads(json.dumps(info)) == reference
    assert json.dumps(info) == json.dumps(reference)  # same key order, options included


def test_object_info_keeps_required_even_without_inputs() -> None:
    info = nodedef_from_v3(_node(io.Schema("Nothing"))).info
    assert info["input"] == {"required": {}} and info["input_order"] == {"required": []}
    assert info["output"] == [] and info["output_tooltips"] == [] and info["display_name"] is None


def test_legacy_object_info_uses_the_v1_key_set() -> None:
    schema = io.Schema("Old", "Old Node", "image", legacy_object_info=True, is_deprecated=True,
                       inputs=[io.Image.Input("image"), io.Int.Input("n", default=1, optional=True)],
                       outputs=[io.Image.Output(tooltip="out")], is_output_node=True)
    info = nodedef_from_v3(_node(schema)).info
    assert info["input"] == {"required": {"image": ["IMAGE"]}, "optional": {"n": ["INT", {"default": 1}]},
                             "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}
    assert info["output_tooltips"] == ["out"] and info["deprecated"] is True
    assert "output_matchtypes" not in info and "experimental" not in info
