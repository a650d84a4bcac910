"""CLIPTextEncodeSDXL and CLIPTextEncodeSDXLRefiner (ComfyUI's ``comfy_extras.nodes_clip_sdxl``).

Both encode like CLIPTextEncode and put the size (and, for the refiner, aesthetic-score) numbers into the
conditioning's options, where the sampler's ADM encoder reads them (host.models.adm). CLIPTextEncodeSDXL
tokenizes ``text_g`` for CLIP-G and ``text_l`` for CLIP-L, padding the shorter with empty-prompt chunks; it
needs SDXL base's dual encoder and says so for any other CLIP.
"""

from __future__ import annotations

from typing import Any

from builtin_nodes.clip_nodes import _NO_CLIP, MissingTextEncoder
from builtin_nodes.node_env import manager
from isolate.api import io

_MODULE = "comfy_extras.nodes_clip_sdxl"
MAX_RESOLUTION = 16384


def _size(name: str, default: int) -> io.Int.Input:
    return io.Int.Input(name, default=default, min=0, max=MAX_RESOLUTION)


def _encode(clip: Any, tokenize: Any, extra: dict[str, Any]) -> list[Any]:
    models = manager()
    models.use(clip, device=models.plan.text_encoder_device)
    try:
        cond, pooled = clip.encode(tokenize())
    finally:
        models.done(clip)
    return [[cond, {"pooled_output": pooled, **extra}]]


class CLIPTextEncodeSDXLRefiner(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="CLIPTextEncodeSDXLRefiner", category="advanced/conditioning", python_module=_MODULE,
            inputs=[io.Float.Input("ascore", default=6.0, min=0.0, max=1000.0, step=0.01),
                    _size("width", 1024), _size("height", 1024),
                    io.String.Input("text", multiline=True, dynamic_prompts=True), io.Clip.Input("clip")],
            outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, clip: Any, ascore: float, width: int, height: int, text: str) -> io.NodeOutput:
        if clip is None:
            raise MissingTextEncoder(_NO_CLIP)
        return io.NodeOutput(_encode(clip, lambda: clip.tokenize(text),
                                     {"aesthetic_score": ascore, "width": width, "height": height}))


class CLIPTextEncodeSDXL(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="CLIPTextEncodeSDXL", category="advanced/conditioning", python_module=_MODULE,
            inputs=[io.Clip.Input("clip"), _size("width", 1024), _size("height", 1024), _size("crop_w", 0),
                    _size("crop_h", 0), _size("target_width", 1024), _size("target_height", 1024),
                    io.String.Input("text_g", multiline=True, dynamic_prompts=True),
                    io.String.Input("text_l", multiline=True, dynamic_prompts=True)],
            outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, clip: Any, width: int, height: int, crop_w: int, crop_h: int, target_width: int,
                target_height: int, text_g: str, text_l: str) -> io.NodeOutput:
        from host.models.clip_sdxl import require_sdxl_base

        if clip is None:
            raise MissingTextEncoder(_NO_CLIP)
        dual = require_sdxl_base(clip, "CLIPTextEncodeSDXL")
        extra = {"width": width, "height": height, "crop_w": crop_w, "crop_h": crop_h,
                 "target_width": target_width, "target_height": target_height}
        return io.NodeOutput(_encode(dual, lambda: dual.tokenize_pair(text_g, text_l), extra))


NODES = [CLIPTextEncodeSDXLRefiner, CLIPTextEncodeSDXL]

__all__ = ["NODES", "CLIPTextEncodeSDXL", "CLIPTextEncodeSDXLRefiner"]
