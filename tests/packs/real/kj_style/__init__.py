"""A pack written the way ComfyUI-KJNodes is: module-level imports of ``comfy.utils`` helpers and
``comfy.samplers`` names, a v3 node with an ``io.BoundingBox`` output beside v1 nodes, INPUT_TYPES that lists
the input folder, and a static route added to ``PromptServer.instance.app`` only when its router is not frozen."""

import os
from pathlib import Path

import folder_paths
import torch
from aiohttp import web
from comfy.samplers import CFGGuider, sampling_function  # noqa: F401  (imported at module level, used later)
from comfy.utils import ProgressBar, common_upscale
from comfy_api.latest import io, ui
from server import PromptServer

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


class LoadFromInputKJStyle:
    """INPUT_TYPES lists the input folder, as image loaders do: it must exist when the pack registers."""

    @classmethod
    def INPUT_TYPES(cls):
        folder = folder_paths.get_input_directory()
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
        return {"required": {"image": (files or ["(none)"], {"image_upload": True})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "load"
    CATEGORY = "kj_style"

    def load(self, image):
        return (image,)


class ResizeFlipKJStyle:
    """An image op run in the pack: ``common_upscale`` on [B, C, H, W], a horizontal flip, a ProgressBar."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",),
                             "width": ("INT", {"default": 8, "min": 1, "max": 4096}),
                             "height": ("INT", {"default": 4, "min": 1, "max": 4096})}}

    RETURN_TYPES = ("IMAGE", "INT", "INT")
    RETURN_NAMES = ("image", "width", "height")
    FUNCTION = "resize"
    CATEGORY = "kj_style"

    def resize(self, image, width, height):
        bar = ProgressBar(2)
        scaled = common_upscale(image.movedim(-1, 1), width, height, "nearest-exact", "disabled").movedim(1, -1)
        bar.update(1)
        flipped = torch.flip(scaled, dims=[2])
        bar.update(1)
        return (flipped, width, height)


class CountFramesKJStyle:
    """Returns one value more than its RETURN_TYPES (as ConstrainImageforVideo|pysssss does): ComfyUI keeps the
    declared ones."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "count"
    CATEGORY = "kj_style"

    def count(self, image):
        return (int(image.shape[0]), "an undeclared extra value")


class ImageToBoundingBoxKJStyle(io.ComfyNode):
    """A v3 node with a BOUNDING_BOX output: the whole image as one box per frame."""

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageToBoundingBoxKJStyle", category="kj_style",
                         inputs=[io.Image.Input("image")],
                         outputs=[io.BoundingBox.Output("bounding_box")])

    @classmethod
    def execute(cls, image):
        height, width = int(image.shape[1]), int(image.shape[2])
        return io.NodeOutput([[{"x": 0, "y": 0, "width": width, "height": height}] for _ in range(image.shape[0])])


class PreviewV3KJStyle(io.ComfyNode):
    """A v3 output node previewing with ``ui.PreviewImage`` (as KJNodes' preview nodes do)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PreviewV3KJStyle", category="kj_style", is_output_node=True,
                         inputs=[io.Image.Input("image")], outputs=[])

    @classmethod
    def execute(cls, image):
        return io.NodeOutput(ui=ui.PreviewImage(image, cls=cls))


class ShowKJStyle:
    """An output node: what reached it, as ui text (an image as its shape and its first row's values)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    CATEGORY = "kj_style"

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        return True

    def show(self, value):
        if isinstance(value, torch.Tensor):
            text = {"shape": list(value.shape), "row": value[0, 0, :, 0].tolist()}
        else:
            text = value
        return {"ui": {"text": [text]}}


if not PromptServer.instance.app.router.frozen:
    PromptServer.instance.app.add_routes([web.static("/kj_style_async", (Path(__file__).parent / "web").as_posix())])

NODE_CLASS_MAPPINGS = {
    "LoadFromInputKJStyle": LoadFromInputKJStyle,
    "ResizeFlipKJStyle": ResizeFlipKJStyle,
    "ImageToBoundingBoxKJStyle": ImageToBoundingBoxKJStyle,
    "CountFramesKJStyle": CountFramesKJStyle,
    "PreviewV3KJStyle": PreviewV3KJStyle,
    "ShowKJStyle": ShowKJStyle,
}
