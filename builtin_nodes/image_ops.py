"""Image operations from ComfyUI's ``nodes``: ImageScaleBy ("Upscale Image By") and ImageBatch ("Batch Images").

ImageScaleBy is a plain v1 class: its ``upscale_method`` is a v1 combo (the option list given as the type,
``[["nearest-exact", ...]]`` in /object_info), which our v3 API renders as ``["COMBO", {...}]``. ImageBatch is
a v3 node rendered in the v1 key set. torch, numpy and PIL are imported inside the bodies only.
"""

from __future__ import annotations

from typing import Any

from isolate.api import io

UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]


def _lanczos(samples: Any, width: int, height: int) -> Any:
    """Resize [B, C, H, W] image by image through PIL's LANCZOS filter, as 8-bit pixels (values are
    clipped to 0..1 and truncated to 0..255 on the way in)."""
    import numpy as np
    import torch
    from PIL import Image

    frames = []
    for image in samples:
        pixels = np.clip(255.0 * image.movedim(0, -1).cpu().float().numpy(), 0, 255).astype(np.uint8)
        if pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        resized = np.asarray(Image.fromarray(pixels).resize((width, height), resample=Image.Resampling.LANCZOS))
        if resized.ndim == 2:
            resized = resized[..., None]
        frames.append(torch.from_numpy(resized.astype(np.float32) / 255.0).movedim(-1, 0))
    return torch.stack(frames).to(samples.device, samples.dtype)


def _center_crop(samples: Any, width: int, height: int) -> Any:
    """Trim [B, C, H, W] equally on both sides of the longer axis so its aspect ratio is width:height."""
    old_h, old_w = samples.shape[-2], samples.shape[-1]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * new_aspect / old_aspect) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * old_aspect / new_aspect) / 2)
    return samples[..., y:old_h - y, x:old_w - x]


def resize(samples: Any, width: int, height: int, method: str, crop: str = "disabled") -> Any:
    """Resize a [B, C, H, W] tensor to height x width: lanczos through PIL, every other method with
    ``torch.nn.functional.interpolate``; ``crop="center"`` first crops to the target aspect ratio."""
    import torch

    if method not in UPSCALE_METHODS:
        raise ValueError(f"unknown upscale method {method!r}; expected one of {UPSCALE_METHODS}")
    if width < 1 or height < 1:
        raise ValueError(f"cannot resize to {width}x{height}: the size must be at least 1x1")
    if crop == "center":
        samples = _center_crop(samples, width, height)
    if method == "lanczos":
        return _lanczos(samples, width, height)
    return torch.nn.functional.interpolate(samples, size=(height, width), mode=method)


class ImageScaleBy:
    """Scale an IMAGE by a factor: the new size is ``round(width * scale_by)`` x ``round(height * scale_by)``."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "image": ("IMAGE",),
            "upscale_method": (list(UPSCALE_METHODS),),
            "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}),
        }}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, image: Any, upscale_method: str, scale_by: float) -> tuple[Any]:
        samples = image.movedim(-1, 1)
        width = round(samples.shape[3] * scale_by)
        height = round(samples.shape[2] * scale_by)
        return (resize(samples, width, height, upscale_method).movedim(1, -1),)


def _match_channels(image1: Any, image2: Any) -> tuple[Any, Any]:
    """Give the image with fewer channels extra channels of 1.0 (an opaque alpha for RGB next to RGBA)."""
    import torch

    c1, c2 = image1.shape[-1], image2.shape[-1]
    if c1 > c2:
        image2 = torch.nn.functional.pad(image2, (0, c1 - c2), mode="constant", value=1.0)
    elif c2 > c1:
        image1 = torch.nn.functional.pad(image1, (0, c2 - c1), mode="constant", value=1.0)
    return image1, image2


class ImageBatch(io.ComfyNode):
    """``image2`` appended to ``image1``'s batch; when their sizes differ ``image2`` is center-cropped to
    ``image1``'s aspect ratio and resized (bilinear) to its size first."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ImageBatch", display_name="Batch Images", category="image", legacy_object_info=True,
            is_deprecated=True, inputs=[io.Image.Input("image1"), io.Image.Input("image2")],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image1: Any, image2: Any) -> io.NodeOutput:
        import torch

        image1, image2 = _match_channels(image1, image2)
        if image1.shape[1:] != image2.shape[1:]:
            height, width = image1.shape[1], image1.shape[2]
            image2 = resize(image2.movedim(-1, 1), width, height, "bilinear", crop="center").movedim(1, -1)
        return io.NodeOutput(torch.cat((image1, image2.to(image1.device, image1.dtype)), dim=0))


NODES = [ImageBatch]
V1_MODULE = "nodes"
V1_CLASSES = {"ImageScaleBy": ImageScaleBy}
V1_DISPLAY_NAMES = {"ImageScaleBy": "Upscale Image By"}
