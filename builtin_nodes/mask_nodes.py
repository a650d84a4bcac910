"""Mask nodes of ComfyUI's ``comfy_extras.nodes_mask`` (v3, as ComfyUI 0.8.0 defines them).

MASK is a float tensor [B, H, W] (a single [H, W] is accepted wherever ComfyUI accepts it); IMAGE is
[B, H, W, C]; LATENT a dict with ``samples`` [B, C, h, w]. torch is imported inside the bodies.
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.saving import writing_to
from builtin_nodes.tensor_fit import MissingChannel, as_mask_batch, repeat_to_batch, resize_frames
from isolate.api import io
from isolate.paths import OutputPaths

MAX_RESOLUTION = 16384
_MODULE = "comfy_extras.nodes_mask"
_CHANNELS = ["red", "green", "blue", "alpha"]
_OPERATIONS = ["multiply", "add", "subtract", "and", "or", "xor"]


def composite(destination: Any, source: Any, x: int, y: int, mask: Any = None, multiplier: int = 8,
              resize_source: bool = False) -> Any:
    """Paste ``source`` ([B, C, h, w]) into ``destination`` (same layout, modified in place and returned) at
    pixel ``(x, y)``, which is divided by ``multiplier`` (8 for latents). The source is resized bilinearly to
    the destination's size first when ``resize_source``, then fitted to the destination's batch; the optional
    mask is resized bilinearly to the source's size and fitted to its batch; whatever falls outside the
    destination is dropped."""
    import torch

    source = source.to(destination.device)
    if resize_source:  # bilinear (frame by frame for video latents)
        source = resize_frames(source, destination.shape[-1], destination.shape[-2], "bilinear")
    source = repeat_to_batch(source, destination.shape[0])
    src_h, src_w = source.shape[-2], source.shape[-1]
    x = max(-src_w * multiplier, min(x, destination.shape[-1] * multiplier))
    y = max(-src_h * multiplier, min(y, destination.shape[-2] * multiplier))
    left, top = x // multiplier, y // multiplier
    if mask is None:
        mask = torch.ones_like(source)
    else:
        mask = mask.to(destination.device, copy=True).reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        mask = repeat_to_batch(torch.nn.functional.interpolate(mask, size=(src_h, src_w), mode="bilinear"),
                               source.shape[0])
    visible_w = destination.shape[-1] - left + min(0, x)
    visible_h = destination.shape[-2] - top + min(0, y)
    mask = mask[..., :visible_h, :visible_w]
    if mask.ndim < source.ndim:
        mask = mask.unsqueeze(1)
    region = destination[..., top:top + src_h, left:left + src_w]
    pasted = mask * source[..., :visible_h, :visible_w] + (1.0 - mask) * region
    destination[..., top:top + src_h, left:left + src_w] = pasted
    return destination


def _schema(node_id: str, inputs: list[Any], outputs: list[Any], category: str = "mask",
            display_name: str | None = None, **extra: Any) -> io.Schema:
    return io.Schema(node_id=node_id, display_name=display_name, category=category, inputs=inputs,
                     outputs=outputs, python_module=_MODULE, **extra)


def _xy(step: int = 1) -> list[Any]:
    return [io.Int.Input("x", default=0, min=0, max=MAX_RESOLUTION, step=step),
            io.Int.Input("y", default=0, min=0, max=MAX_RESOLUTION, step=step)]


class LatentCompositeMasked(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentCompositeMasked", [
            io.Latent.Input("destination"), io.Latent.Input("source"), *_xy(8),
            io.Boolean.Input("resize_source", default=False), io.Mask.Input("mask", optional=True)],
            [io.Latent.Output()], category="latent")

    @classmethod
    def execute(cls, destination: dict[str, Any], source: dict[str, Any], x: int, y: int,
                resize_source: bool, mask: Any = None) -> io.NodeOutput:
        out = destination.copy()
        out["samples"] = composite(destination["samples"].clone(), source["samples"], x, y, mask, 8,
                                   resize_source)
        return io.NodeOutput(out)


def _alpha_fix(destination: Any, source: Any) -> tuple[Any, Any]:
    """The source's channels fitted to the destination's: an extra alpha dropped, a missing one opaque."""
    import torch

    if destination.shape[-1] < source.shape[-1]:
        source = source[..., :destination.shape[-1]]
    elif destination.shape[-1] > source.shape[-1]:
        source = torch.nn.functional.pad(source, (0, 1), value=1.0)
    return destination, source


class ImageCompositeMasked(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageCompositeMasked", [
            io.Image.Input("destination"), io.Image.Input("source"), *_xy(1),
            io.Boolean.Input("resize_source", default=False), io.Mask.Input("mask", optional=True)],
            [io.Image.Output()], category="image")

    @classmethod
    def execute(cls, destination: Any, source: Any, x: int, y: int, resize_source: bool,
                mask: Any = None) -> io.NodeOutput:
        destination, source = _alpha_fix(destination, source)
        out = composite(destination.clone().movedim(-1, 1), source.movedim(-1, 1), x, y, mask, 1, resize_source)
        return io.NodeOutput(out.movedim(1, -1))


class MaskToImage(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("MaskToImage", [io.Mask.Input("mask")], [io.Image.Output()],
                       display_name="Convert Mask to Image")

    @classmethod
    def execute(cls, mask: Any) -> io.NodeOutput:
        grey = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).movedim(1, -1)
        return io.NodeOutput(grey.expand(-1, -1, -1, 3))


class ImageToMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageToMask", [io.Image.Input("image"), io.Combo.Input("channel", options=_CHANNELS)],
                       [io.Mask.Output()], display_name="Convert Image to Mask")

    @classmethod
    def execute(cls, image: Any, channel: str) -> io.NodeOutput:
        index = _CHANNELS.index(channel)
        if index >= image.shape[-1]:
            raise MissingChannel(f"the image has {image.shape[-1]} channels, so it has no {channel} channel")
        return io.NodeOutput(image[:, :, :, index])


class ImageColorToMask(io.ComfyNode):
    """1.0 where a pixel's 8-bit RGB (``round(clamp(v, 0, 1) * 255)`` per channel) packs to ``color``."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageColorToMask", [
            io.Image.Input("image"),
            io.Int.Input("color", default=0, min=0, max=0xFFFFFF, step=1, display_mode=io.NumberDisplay.number)],
            [io.Mask.Output()])

    @classmethod
    def execute(cls, image: Any, color: int) -> io.NodeOutput:
        import torch

        rgb = (torch.clamp(image, 0, 1.0) * 255.0).round().to(torch.int64)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return io.NodeOutput((packed == color).float())


class SolidMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("SolidMask", [
            io.Float.Input("value", default=1.0, min=0.0, max=1.0, step=0.01),
            io.Int.Input("width", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Int.Input("height", default=512, min=1, max=MAX_RESOLUTION, step=1)], [io.Mask.Output()])

    @classmethod
    def execute(cls, value: float, width: int, height: int) -> io.NodeOutput:
        import torch

        return io.NodeOutput(torch.full((1, height, width), value, dtype=torch.float32))


class InvertMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("InvertMask", [io.Mask.Input("mask")], [io.Mask.Output()])

    @classmethod
    def execute(cls, mask: Any) -> io.NodeOutput:
        return io.NodeOutput(1.0 - mask)


class CropMask(io.ComfyNode):
    """Rows y..y+height and columns x..x+width, cut to the mask (a crop starting past an edge is empty, as in
    ComfyUI)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("CropMask", [
            io.Mask.Input("mask"), *_xy(1),
            io.Int.Input("width", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Int.Input("height", default=512, min=1, max=MAX_RESOLUTION, step=1)], [io.Mask.Output()])

    @classmethod
    def execute(cls, mask: Any, x: int, y: int, width: int, height: int) -> io.NodeOutput:
        return io.NodeOutput(as_mask_batch(mask)[:, y:y + height, x:x + width])


class MaskComposite(io.ComfyNode):
    """``source`` combined into ``destination`` at (x, y) over their overlap, then clamped to 0..1; the logic
    operations compare rounded values. A source batch is fitted to the destination's (ComfyUI broadcasts a
    single source mask); a position past the destination's edge leaves it unchanged."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("MaskComposite", [
            io.Mask.Input("destination"), io.Mask.Input("source"), *_xy(1),
            io.Combo.Input("operation", options=_OPERATIONS)], [io.Mask.Output()])

    @classmethod
    def execute(cls, destination: Any, source: Any, x: int, y: int, operation: str) -> io.NodeOutput:
        import torch

        output = as_mask_batch(destination).clone()
        source = repeat_to_batch(as_mask_batch(source).to(output.device), output.shape[0])
        right = min(x + source.shape[-1], output.shape[-1])
        bottom = min(y + source.shape[-2], output.shape[-2])
        if right > x and bottom > y:
            src = source[:, :bottom - y, :right - x]
            dst = output[:, y:bottom, x:right]
            logic = {"and": torch.bitwise_and, "or": torch.bitwise_or, "xor": torch.bitwise_xor}
            if operation in logic:
                combined = logic[operation](dst.round().bool(), src.round().bool()).float()
            else:
                combined = {"multiply": dst * src, "add": dst + src, "subtract": dst - src}[operation]
            output[:, y:bottom, x:right] = combined
        return io.NodeOutput(torch.clamp(output, 0.0, 1.0))


def _edge_weights(size: int, first: int, last: int) -> Any:
    """Per-row (or column) factors of FeatherMask along one axis of ``size``.

    Reproduces ComfyUI 0.8.0 exactly: entry ``i`` of the leading edge gets ``(i + 1) / first``; the trailing
    edge loop multiplies entry ``-i`` by ``(i + 1) / last`` for i = 0..last-1, so (since -0 is 0) its first
    factor 1/last lands on entry 0 and the outermost trailing entry gets 2/last, not 1/last."""
    import torch

    weights = torch.ones(size, dtype=torch.float32)
    first, last = min(first, size), min(last, size)
    for i in range(first):
        weights[i] *= (i + 1.0) / first
    for i in range(last):
        weights[-i] *= (i + 1) / last
    return weights


class FeatherMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        sides = [io.Int.Input(s, default=0, min=0, max=MAX_RESOLUTION, step=1)
                 for s in ("left", "top", "right", "bottom")]
        return _schema("FeatherMask", [io.Mask.Input("mask"), *sides], [io.Mask.Output()])

    @classmethod
    def execute(cls, mask: Any, left: int, top: int, right: int, bottom: int) -> io.NodeOutput:
        out = as_mask_batch(mask).clone()
        cols = _edge_weights(out.shape[-1], left, right).to(out.device, out.dtype)
        rows = _edge_weights(out.shape[-2], top, bottom).to(out.device, out.dtype)
        return io.NodeOutput(out * cols[None, None, :] * rows[None, :, None])


def grow(mask: Any, expand: int, tapered_corners: bool = True) -> Any:
    """``abs(expand)`` grey dilations (expand > 0) or erosions (< 0) of [B, H, W] with a 3x3 footprint: the
    cross when ``tapered_corners``, the full square otherwise; the edge pixels extend outwards (what
    ``scipy.ndimage.grey_dilation``'s default 'reflect' border gives a 3x3 footprint, as ComfyUI uses it)."""
    import torch
    import torch.nn.functional as F

    steps = abs(expand)
    out = mask.float()[:, None]
    if steps == 0:
        return out[:, 0].to(mask.dtype)
    sign = 1.0 if expand > 0 else -1.0
    out = out * sign  # erosion = -dilation(-mask)
    h, w = out.shape[-2:]
    if not tapered_corners:  # k 3x3-square dilations = one (2k+1)-square max filter, clamped borders
        k = min(steps, max(h, w))
        out = F.max_pool2d(F.pad(out, (k, k, k, k), mode="replicate"), 2 * k + 1, stride=1)
    else:  # the cross: k steps reach the L1 ball of radius k; after h + w steps nothing changes
        for _ in range(min(steps, h + w)):
            p = F.pad(out, (1, 1, 1, 1), mode="replicate")
            out = torch.stack([p[..., 1:-1, 1:-1], p[..., :-2, 1:-1], p[..., 2:, 1:-1], p[..., 1:-1, :-2],
                               p[..., 1:-1, 2:]]).amax(0)
    return (out[:, 0] * sign).to(mask.dtype)


class GrowMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("GrowMask", [
            io.Mask.Input("mask"),
            io.Int.Input("expand", default=0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1),
            io.Boolean.Input("tapered_corners", default=True)], [io.Mask.Output()], display_name="Grow Mask")

    @classmethod
    def execute(cls, mask: Any, expand: int, tapered_corners: bool) -> io.NodeOutput:
        return io.NodeOutput(grow(as_mask_batch(mask), expand, tapered_corners))


class ThresholdMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ThresholdMask", [io.Mask.Input("mask"),
                                         io.Float.Input("value", default=0.5, min=0.0, max=1.0, step=0.01)],
                       [io.Mask.Output()])

    @classmethod
    def execute(cls, mask: Any, value: float) -> io.NodeOutput:
        return io.NodeOutput((mask > value).float())


class MaskPreview(io.ComfyNode):
    """The mask as grey PNGs in the temp folder (``ComfyUI_temp_xxxxx_NNNNN_.png``, compress level 1, no
    metadata, as ComfyUI's ``ui.PreviewMask`` writes them)."""

    paths: ClassVar[OutputPaths]

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("MaskPreview", [io.Mask.Input("mask")], [], display_name="Preview Mask",
                       description="Saves the input images to your ComfyUI output directory.",
                       hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo], is_output_node=True)

    @classmethod
    def execute(cls, mask: Any) -> io.NodeOutput:
        from isolate.api import ui

        with writing_to(cls.paths):
            return io.NodeOutput(ui=ui.PreviewMask(mask))


def mask_nodes(paths: OutputPaths) -> list[type[io.ComfyNode]]:
    """The mask node classes, MaskPreview bound to ``paths``."""
    preview = type("MaskPreview", (MaskPreview,), {"paths": paths})
    return [LatentCompositeMasked, ImageCompositeMasked, MaskToImage, ImageToMask, ImageColorToMask, SolidMask,
            InvertMask, CropMask, MaskComposite, FeatherMask, GrowMask, ThresholdMask, preview]
