"""Image nodes: EmptyImage, ImageInvert, SaveImage, PreviewImage (names and inputs as ComfyUI's ``nodes``).

IMAGE is a float tensor [B, H, W, C] in 0..1. torch, numpy and PIL are imported inside the bodies, so
loading the node definitions stays cheap.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any, ClassVar

from builtin_nodes.paths import OutputPaths, save_image_path
from isolate.api import io
from isolate.paths import claim_image_name

MAX_RESOLUTION = 16384
_SAVE_DESCRIPTION = "Saves the input images to your ComfyUI output directory."


class EmptyImage(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmptyImage", category="image", legacy_object_info=True,
            inputs=[
                io.Int.Input("width", default=512, min=1, max=MAX_RESOLUTION, step=1),
                io.Int.Input("height", default=512, min=1, max=MAX_RESOLUTION, step=1),
                io.Int.Input("batch_size", default=1, min=1, max=4096),
                io.Int.Input("color", default=0, min=0, max=0xFFFFFF, step=1, display_mode="color"),
            ],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, width: int, height: int, batch_size: int = 1, color: int = 0) -> io.NodeOutput:
        import torch

        rgb = torch.tensor([(color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF], dtype=torch.float32)
        return io.NodeOutput((rgb / 255.0).expand(batch_size, height, width, 3).contiguous())


class ImageInvert(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ImageInvert", display_name="Invert Image", category="image", legacy_object_info=True,
            inputs=[io.Image.Input("image")], outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image: Any) -> io.NodeOutput:
        return io.NodeOutput(1.0 - image)


class SaveImage(io.ComfyNode):
    """Writes PNGs ``prefix_00001_.png`` with the prompt and each extra_pnginfo key as text chunks."""

    paths: ClassVar[OutputPaths]
    folder_type: ClassVar[str] = "output"
    compress_level: ClassVar[int] = 4

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SaveImage", display_name="Save Image", category="image", legacy_object_info=True,
            description=_SAVE_DESCRIPTION, is_output_node=True,
            inputs=[
                io.Image.Input("images", tooltip="The images to save."),
                io.String.Input(
                    "filename_prefix", default="ComfyUI", multiline=None,
                    tooltip="The prefix for the file to save. This may include formatting information such as "
                            "%date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes."),
            ])

    @classmethod
    def root(cls) -> Any:
        return cls.paths.output_dir

    @classmethod
    def execute(cls, images: Any, filename_prefix: str = "ComfyUI") -> io.NodeOutput:
        return io.NodeOutput(ui={"images": cls.save(images, filename_prefix)})

    @classmethod
    def save(cls, images: Any, prefix: str) -> list[dict[str, str]]:
        import numpy as np
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        root = cls.root()
        folder, stem, subfolder, counter = save_image_path(prefix, root, images.shape[2], images.shape[1])
        folder.mkdir(parents=True, exist_ok=True)
        meta = cls.metadata(PngInfo)
        results = []
        for batch_number, image in enumerate(images):
            pixels = np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8)
            name, counter = claim_image_name(folder, stem.replace('%batch_num%', str(batch_number)), counter)
            Image.fromarray(pixels).save(folder / name, pnginfo=meta, compress_level=cls.compress_level)
            results.append({"filename": name, "subfolder": subfolder, "type": cls.folder_type})
            counter += 1
        return results

    @classmethod
    def metadata(cls, png_info: type) -> Any:
        meta = png_info()
        if not cls.paths.metadata:
            return None
        if cls.hidden.prompt is not None:
            meta.add_text("prompt", json.dumps(cls.hidden.prompt))
        for key, value in (cls.hidden.extra_pnginfo or {}).items():
            meta.add_text(key, json.dumps(value))
        return meta


class PreviewImage(SaveImage):
    """Like SaveImage, into the temp folder with a random ``ComfyUI_temp_xxxxx`` prefix."""

    folder_type = "temp"
    compress_level = 1

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PreviewImage", display_name="Preview Image", category="image", legacy_object_info=True,
            description=_SAVE_DESCRIPTION, is_output_node=True, inputs=[io.Image.Input("images")])

    @classmethod
    def root(cls) -> Any:
        return cls.paths.temp_dir

    @classmethod
    def execute(cls, images: Any) -> io.NodeOutput:
        suffix = "".join(random.choice(string.ascii_lowercase) for _ in range(5))
        return io.NodeOutput(ui={"images": cls.save(images, "ComfyUI_temp_" + suffix)})


def image_nodes(paths: OutputPaths) -> list[type[io.ComfyNode]]:
    """The image node classes, the saving ones bound to ``paths``."""
    save = type("SaveImage", (SaveImage,), {"paths": paths})
    preview = type("PreviewImage", (PreviewImage,), {"paths": paths})
    return [EmptyImage, ImageInvert, save, preview]
