"""ImageStitch from ComfyUI's ``comfy_extras.nodes_images`` (v3, as in ComfyUI 0.8.0).

What is reproduced, step by step:

1. Batches of different sizes: the smaller one is extended by repeating its last image.
2. ``match_image_size``: image2 is resized (lanczos, through PIL at 8 bits) keeping its aspect ratio, to
   image1's height for right/left (width ``int(h1 * w2 / h2)``) or image1's width for down/up (height
   ``int(w1 * h2 / w2)``), both truncated. Otherwise the shorter image is padded on the axis that is not
   concatenated, centred (the extra pixel after), with the spacing colour when it is white (1.0) or black
   (0.0) and with black for red/green/blue.
3. Channel counts: the image with fewer channels gets extra channels of 1.0.
4. Spacing: ``spacing_width`` rounded up to even; a strip that wide, as tall (or wide) as the larger image,
   filled with the colour on the first three channels and alpha 1.0 on a fourth.
5. Order: image1, spacing, image2 for right/down; image2, spacing, image1 for left/up.
"""

from __future__ import annotations

from typing import Any

from builtin_nodes.image_ops import resize
from isolate.api import io

_COLORS: dict[str, Any] = {"white": 1.0, "black": 0.0, "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0),
                           "blue": (0.0, 0.0, 1.0)}
_DESCRIPTION = ("Stitches image2 to image1 in the specified direction.\n"
                "If image2 is not provided, returns image1 unchanged.\n"
                "Optional spacing can be added between images.")


def _extend_batch(image: Any, batch: int) -> Any:
    import torch

    if image.shape[0] >= batch:
        return image
    return torch.cat([image, image[-1:].repeat(batch - image.shape[0], 1, 1, 1)])


def _pad_centred(image: Any, size: int, dim: int, value: float) -> Any:
    """``image`` padded along ``dim`` (1 = height, 2 = width) to ``size``, half before (floored), rest after."""
    import torch

    missing = size - image.shape[dim]
    if missing <= 0:
        return image
    before, after = missing // 2, missing - missing // 2
    pad = (0, 0, 0, 0, before, after) if dim == 1 else (0, 0, before, after)
    return torch.nn.functional.pad(image, pad, mode="constant", value=value)


def _match_channels(image1: Any, image2: Any) -> tuple[Any, Any]:
    import torch

    channels = max(image1.shape[-1], image2.shape[-1])

    def fill(image: Any) -> Any:
        if image.shape[-1] == channels:
            return image
        ones = torch.ones(*image.shape[:-1], channels - image.shape[-1], device=image.device, dtype=image.dtype)
        return torch.cat([image, ones], dim=-1)

    return fill(image1), fill(image2)


def _spacing(image1: Any, image2: Any, width: int, horizontal: bool, color: Any) -> Any:
    import torch

    channels = image1.shape[-1]
    if horizontal:
        shape = (image1.shape[0], max(image1.shape[1], image2.shape[1]), width, channels)
    else:
        shape = (image1.shape[0], width, max(image1.shape[2], image2.shape[2]), channels)
    strip = torch.zeros(shape, device=image1.device, dtype=image1.dtype)
    values = color if isinstance(color, tuple) else (color,) * 3
    for i, v in enumerate(values[:channels]):
        strip[..., i] = v
    if channels == 4:
        strip[..., 3] = 1.0
    return strip


def stitch(image1: Any, image2: Any, direction: str, match_image_size: bool, spacing_width: int,
           spacing_color: str) -> Any:
    """image2 joined to image1 on the ``direction`` side (module docstring)."""
    import torch

    batch = max(image1.shape[0], image2.shape[0])
    image1, image2 = _extend_batch(image1, batch), _extend_batch(image2, batch)
    horizontal = direction in ("left", "right")
    color = _COLORS[spacing_color]
    if match_image_size:
        (h1, w1), (h2, w2) = image1.shape[1:3], image2.shape[1:3]
        aspect = w2 / h2
        size = (int(h1 * aspect), h1) if horizontal else (w1, int(w1 / aspect))
        image2 = resize(image2.movedim(-1, 1), size[0], size[1], "lanczos").movedim(1, -1)
    else:
        dim = 1 if horizontal else 2
        target = max(image1.shape[dim], image2.shape[dim])
        value = 0.0 if isinstance(color, tuple) else color
        image1, image2 = _pad_centred(image1, target, dim, value), _pad_centred(image2, target, dim, value)
    image1, image2 = _match_channels(image1, image2)
    parts = [image2, image1] if direction in ("left", "up") else [image1, image2]
    if spacing_width > 0:
        parts.insert(1, _spacing(image1, image2, spacing_width + spacing_width % 2, horizontal, color))
    return torch.cat(parts, dim=2 if horizontal else 1)


class ImageStitch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ImageStitch", display_name="Image Stitch", category="image/transform",
            description=_DESCRIPTION, python_module="comfy_extras.nodes_images",
            inputs=[
                io.Image.Input("image1"),
                io.Combo.Input("direction", options=["right", "down", "left", "up"], default="right"),
                io.Boolean.Input("match_image_size", default=True),
                io.Int.Input("spacing_width", default=0, min=0, max=1024, step=2),
                io.Combo.Input("spacing_color", options=list(_COLORS), default="white"),
                io.Image.Input("image2", optional=True)],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image1: Any, direction: str, match_image_size: bool, spacing_width: int,
                spacing_color: str, image2: Any = None) -> io.NodeOutput:
        if image2 is None:
            return io.NodeOutput(image1)
        return io.NodeOutput(stitch(image1, image2, direction, match_image_size, spacing_width, spacing_color))


NODES: list[type[io.ComfyNode]] = [ImageStitch]
