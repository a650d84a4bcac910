"""Image nodes of ComfyUI's ``comfy_extras.nodes_images`` (v3, as in ComfyUI 0.8.0): crop, flip, rotate,
batch picking and repeating, noise, sizing; and ``nodes``' ImagePadForOutpaint (v1).

IMAGE is a float tensor [B, H, W, C] in 0..1. Resizing goes through ``builtin_nodes.image_ops.resize``
(ComfyUI's ``common_upscale``: torch interpolation, lanczos through PIL at 8 bits). torch is imported inside
the bodies.
"""

from __future__ import annotations

from typing import Any

from builtin_nodes.image_ops import resize
from isolate.api import io

MAX_RESOLUTION = 16384
SEED_MAX = 0xFFFFFFFFFFFFFFFF
_MODULE = "comfy_extras.nodes_images"


def _schema(node_id: str, category: str, inputs: list[Any], outputs: list[Any] | None = None,
            **extra: Any) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, inputs=inputs,
                     outputs=outputs if outputs is not None else [io.Image.Output()], python_module=_MODULE,
                     **extra)


class ImageCrop(io.ComfyNode):
    """A width x height window at (x, y); x and y are first clamped to the last column / row, and the window
    is cut to the image (so an out-of-range crop keeps at least one pixel)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageCrop", "image/transform", [
            io.Image.Input("image"),
            io.Int.Input("width", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Int.Input("height", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Int.Input("x", default=0, min=0, max=MAX_RESOLUTION, step=1),
            io.Int.Input("y", default=0, min=0, max=MAX_RESOLUTION, step=1)], display_name="Image Crop")

    @classmethod
    def execute(cls, image: Any, width: int, height: int, x: int, y: int) -> io.NodeOutput:
        x = min(x, image.shape[2] - 1)
        y = min(y, image.shape[1] - 1)
        return io.NodeOutput(image[:, y:y + height, x:x + width, :])


class RepeatImageBatch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("RepeatImageBatch", "image/batch", [
            io.Image.Input("image"), io.Int.Input("amount", default=1, min=1, max=4096)])

    @classmethod
    def execute(cls, image: Any, amount: int) -> io.NodeOutput:
        return io.NodeOutput(image.repeat((amount, 1, 1, 1)))


class ImageFromBatch(io.ComfyNode):
    """``length`` images from ``batch_index``; the index is clamped to the last image, the length to what
    is left."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageFromBatch", "image/batch", [
            io.Image.Input("image"), io.Int.Input("batch_index", default=0, min=0, max=4095),
            io.Int.Input("length", default=1, min=1, max=4096)])

    @classmethod
    def execute(cls, image: Any, batch_index: int, length: int) -> io.NodeOutput:
        batch_index = min(image.shape[0] - 1, batch_index)
        length = min(image.shape[0] - batch_index, length)
        return io.NodeOutput(image[batch_index:batch_index + length].clone())


class ImageAddNoise(io.ComfyNode):
    """``clamp(image + strength * N(0, 1), 0, 1)``, the noise drawn on the CPU by a generator seeded with
    ``seed`` (the numbers ``torch.manual_seed(seed); torch.randn(image.shape)`` gives)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageAddNoise", "image", [
            io.Image.Input("image"),
            io.Int.Input("seed", default=0, min=0, max=SEED_MAX, control_after_generate=True,
                         tooltip="The random seed used for creating the noise."),
            io.Float.Input("strength", default=0.5, min=0.0, max=1.0, step=0.01)])

    @classmethod
    def execute(cls, image: Any, seed: int, strength: float) -> io.NodeOutput:
        import torch

        generator = torch.Generator(device="cpu").manual_seed(seed)
        noise = torch.randn(image.size(), generator=generator, device="cpu").to(image)
        return io.NodeOutput(torch.clip(image + strength * noise, min=0.0, max=1.0))


class ResizeAndPadImage(io.ComfyNode):
    """Scaled by ``min(target_w / w, target_h / h)`` to ``int(w * scale)`` x ``int(h * scale)``, centred
    (offsets floored) on a white or black canvas of the target size."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ResizeAndPadImage", "image/transform", [
            io.Image.Input("image"),
            io.Int.Input("target_width", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Int.Input("target_height", default=512, min=1, max=MAX_RESOLUTION, step=1),
            io.Combo.Input("padding_color", options=["white", "black"]),
            io.Combo.Input("interpolation", options=["area", "bicubic", "nearest-exact", "bilinear", "lanczos"])])

    @classmethod
    def execute(cls, image: Any, target_width: int, target_height: int, padding_color: str,
                interpolation: str) -> io.NodeOutput:
        import torch

        batch, height, width, channels = image.shape
        scale = min(target_width / width, target_height / height)
        new_w, new_h = int(width * scale), int(height * scale)
        resized = resize(image.permute(0, 3, 1, 2), new_w, new_h, interpolation)
        canvas = torch.full((batch, channels, target_height, target_width), 0.0 if padding_color == "black" else 1.0,
                            dtype=image.dtype, device=image.device)
        top, left = (target_height - new_h) // 2, (target_width - new_w) // 2
        canvas[:, :, top:top + new_h, left:left + new_w] = resized
        return io.NodeOutput(canvas.permute(0, 2, 3, 1))


class GetImageSize(io.ComfyNode):
    """(width, height, batch size). ComfyUI also shows them on the node as progress text; nodehost's in-process
    nodes have no progress-text channel, so only the outputs carry them."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("GetImageSize", "image", [io.Image.Input("image")], [
            io.Int.Output(display_name="width"), io.Int.Output(display_name="height"),
            io.Int.Output(display_name="batch_size")], display_name="Get Image Size",
            description="Returns width and height of the image, and passes it through unchanged.",
            hidden=[io.Hidden.unique_id])

    @classmethod
    def execute(cls, image: Any) -> io.NodeOutput:
        return io.NodeOutput(image.shape[2], image.shape[1], image.shape[0])


class ImageRotate(io.ComfyNode):
    """Clockwise by 90, 180 or 270 degrees."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageRotate", "image/transform", [
            io.Image.Input("image"),
            io.Combo.Input("rotation", options=["none", "90 degrees", "180 degrees", "270 degrees"])])

    @classmethod
    def execute(cls, image: Any, rotation: str) -> io.NodeOutput:
        import torch

        turns = {"90": 1, "180": 2, "270": 3}.get(rotation.split(" ")[0], 0)
        return io.NodeOutput(torch.rot90(image, k=turns, dims=[2, 1]))


class ImageFlip(io.ComfyNode):
    """"x-axis" flips top to bottom, "y-axis" left to right."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageFlip", "image/transform", [
            io.Image.Input("image"),
            io.Combo.Input("flip_method", options=["x-axis: vertically", "y-axis: horizontally"])])

    @classmethod
    def execute(cls, image: Any, flip_method: str) -> io.NodeOutput:
        import torch

        if flip_method.startswith("x"):
            image = torch.flip(image, dims=[1])
        elif flip_method.startswith("y"):
            image = torch.flip(image, dims=[2])
        return io.NodeOutput(image)


class ImageScaleToMaxDimension(io.ComfyNode):
    """The longer side becomes ``largest_size``, the other ``round(other / longer * largest_size)``."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ImageScaleToMaxDimension", "image/upscaling", [
            io.Image.Input("image"),
            io.Combo.Input("upscale_method", options=["area", "lanczos", "bilinear", "nearest-exact", "bilinear",
                                                      "bicubic"]),
            io.Int.Input("largest_size", default=512, min=0, max=MAX_RESOLUTION, step=1)])

    @classmethod
    def execute(cls, image: Any, upscale_method: str, largest_size: int) -> io.NodeOutput:
        height, width = image.shape[1], image.shape[2]
        if height > width:
            width, height = round(width / height * largest_size), largest_size
        elif width > height:
            width, height = largest_size, round(height / width * largest_size)
        else:
            width = height = largest_size
        return io.NodeOutput(resize(image.movedim(-1, 1), width, height, upscale_method).movedim(1, -1))


def outpaint_feather(height: int, width: int, sides: tuple[int, int, int, int], feathering: int) -> Any:
    """The mask over the original pixels ([height, width]): 0 inside; within ``feathering`` pixels of a padded
    side (left, top, right, bottom) ``((feathering - d) / feathering) ** 2``, d the distance to the nearest
    padded side (0 at the first row/column, ``height - i`` from the bottom). Only when ``2 * feathering`` is
    smaller than both sides, as in ComfyUI."""
    import torch

    left, top, right, bottom = sides
    if not (feathering > 0 and feathering * 2 < height and feathering * 2 < width):
        return torch.zeros((height, width), dtype=torch.float32)
    i = torch.arange(height, dtype=torch.float64)[:, None]
    j = torch.arange(width, dtype=torch.float64)[None, :]

    def side(padded: int, dist: Any, otherwise: int) -> Any:
        return dist if padded else torch.full_like(dist, float(otherwise))

    d = torch.minimum(torch.minimum(side(top, i, height), side(bottom, height - i, height)),
                      torch.minimum(side(left, j, width), side(right, width - j, width)))
    v = (feathering - d) / feathering
    return torch.where(d < feathering, v * v, 0.0).float()


class ImagePadForOutpaint:
    """Pads the image with grey (0.5) by left/top/right/bottom pixels; the mask ([1, H', W']) is 1 over the
    padding and the feathered ramp (``outpaint_feather``) over the original pixels."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        side = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {
            "image": ("IMAGE",), "left": ("INT", dict(side)), "top": ("INT", dict(side)),
            "right": ("INT", dict(side)), "bottom": ("INT", dict(side)),
            "feathering": ("INT", {"default": 40, "min": 0, "max": MAX_RESOLUTION, "step": 1})}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "expand_image"
    CATEGORY = "image"

    def expand_image(self, image: Any, left: int, top: int, right: int, bottom: int,
                     feathering: int) -> tuple[Any, Any]:
        import torch

        b, h, w, c = image.shape
        out = torch.full((b, h + top + bottom, w + left + right, c), 0.5, dtype=torch.float32)
        out[:, top:top + h, left:left + w, :] = image.to(out.device)
        mask = torch.ones((h + top + bottom, w + left + right), dtype=torch.float32)
        mask[top:top + h, left:left + w] = outpaint_feather(h, w, (left, top, right, bottom), feathering)
        return out, mask.unsqueeze(0)


NODES: list[type[io.ComfyNode]] = [ImageCrop, RepeatImageBatch, ImageFromBatch, ImageAddNoise, ResizeAndPadImage,
                                   GetImageSize, ImageRotate, ImageFlip, ImageScaleToMaxDimension]
V1_CLASSES = {"ImagePadForOutpaint": ImagePadForOutpaint}
V1_DISPLAY_NAMES = {"ImagePadForOutpaint": "Pad Image for Outpainting"}
