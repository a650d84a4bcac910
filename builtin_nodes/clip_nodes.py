"""CLIPSetLastLayer and CLIPTextEncode from ComfyUI's ``nodes``, over the CLIP value ``host.models.loading``
returns (``tokenize``, ``encode``, ``clone``, ``set_last_layer``)."""

from __future__ import annotations

from typing import Any

from builtin_nodes.node_env import manager

_NO_CLIP = ("ERROR: clip input is invalid: None\n\nIf the clip is from a checkpoint loader node your checkpoint "
            "does not contain a valid clip or text encoder model.")


class MissingTextEncoder(RuntimeError):
    """CLIPTextEncode got no CLIP (a checkpoint without a text encoder)."""


class CLIPSetLastLayer:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"clip": ("CLIP",),
                             "stop_at_clip_layer": ("INT", {"default": -1, "min": -24, "max": -1, "step": 1})}}

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "set_last_layer"
    CATEGORY = "conditioning"

    def set_last_layer(self, clip: Any, stop_at_clip_layer: int) -> tuple[Any]:
        clip = clip.clone()
        clip.set_last_layer(stop_at_clip_layer)
        return (clip,)


class CLIPTextEncode:
    DESCRIPTION = ("Encodes a text prompt using a CLIP model into an embedding that can be used to guide the "
                   "diffusion model towards generating specific images.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "text": ("STRING", {"multiline": True, "dynamicPrompts": True, "tooltip": "The text to be encoded."}),
            "clip": ("CLIP", {"tooltip": "The CLIP model used for encoding the text."})}}

    RETURN_TYPES = ("CONDITIONING",)
    OUTPUT_TOOLTIPS = ("A conditioning containing the embedded text used to guide the diffusion model.",)
    FUNCTION = "encode"
    CATEGORY = "conditioning"

    def encode(self, clip: Any, text: str) -> tuple[list[Any]]:
        if clip is None:
            raise MissingTextEncoder(_NO_CLIP)
        models = manager()
        models.use(clip, device=models.plan.text_encoder_device)
        try:
            cond, pooled = clip.encode(clip.tokenize(text))
        finally:
            models.done(clip)
        return ([[cond, {"pooled_output": pooled}]],)


V1_MODULE = "nodes"
V1_CLASSES = {"CLIPSetLastLayer": CLIPSetLastLayer, "CLIPTextEncode": CLIPTextEncode}
V1_DISPLAY_NAMES = {"CLIPSetLastLayer": "CLIP Set Last Layer", "CLIPTextEncode": "CLIP Text Encode (Prompt)"}
