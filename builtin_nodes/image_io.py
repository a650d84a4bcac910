"""LoadImage, LoadImageMask and ImageScale from ComfyUI's ``nodes``.

LoadImage's combo lists the image files of the input folder, read again whenever /object_info or validation
asks (a file uploaded or dropped there appears at once). Pixels are ``v / 255`` (``I`` images scaled first), EXIF
orientation applied, every frame of an animated file of the first frame's size stacked; the mask is
``1 - alpha`` (or the palette's transparency), a 64x64 zero mask when there is none.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from typing import Any, ClassVar

from builtin_nodes.image_ops import UPSCALE_METHODS, resize
from builtin_nodes.node_env import NodeFolders

MAX_RESOLUTION = 16384


def input_images(folders: NodeFolders) -> list[str]:
    """The image files directly in the input folder, sorted (ComfyUI's content-type filter: ``image/*`` by
    extension, plus files whose type is unknown)."""
    try:
        names = [f for f in os.listdir(folders.input_dir) if (folders.input_dir / f).is_file()]
    except OSError:
        return []
    keep = []
    for name in names:
        mime = mimetypes.guess_type(name, strict=False)[0]
        if mime is None or mime.split("/")[0] == "image":
            keep.append(name)
    return sorted(keep)


def _frames(img: Any) -> Any:
    from PIL import ImageOps, ImageSequence

    from isolate.compat_modules.node_helpers import pillow

    for frame in ImageSequence.Iterator(img):
        yield pillow(ImageOps.exif_transpose, frame)
        if img.format == "MPO":  # a stereo pair: the first picture only
            break


def load_image(path: Any) -> tuple[Any, Any]:
    """(IMAGE [B, H, W, 3], MASK [B, H, W]) of an image file."""
    from PIL import Image

    from isolate.compat_modules.node_helpers import pillow

    with pillow(Image.open, path) as img:
        return _load_frames(img)


def _load_frames(img: Any) -> tuple[Any, Any]:
    import numpy as np
    import torch

    images, masks, size = [], [], None
    for frame in _frames(img):
        if frame.mode == "I":
            frame = frame.point(lambda v: v * (1 / 255))
        rgb = frame.convert("RGB")
        if size is None:
            size = rgb.size
        if rgb.size != size:  # frames of another size are skipped
            continue
        images.append(torch.from_numpy(np.array(rgb).astype(np.float32) / 255.0)[None])
        if "A" in frame.getbands():
            alpha = np.array(frame.getchannel("A")).astype(np.float32) / 255.0
            masks.append(1.0 - torch.from_numpy(alpha)[None])
        elif frame.mode == "P" and "transparency" in frame.info:
            alpha = np.array(frame.convert("RGBA").getchannel("A")).astype(np.float32) / 255.0
            masks.append(1.0 - torch.from_numpy(alpha)[None])
        else:
            masks.append(torch.zeros((1, 64, 64), dtype=torch.float32))
    if len(images) == 1:
        return images[0], masks[0]
    return torch.cat(images, dim=0), torch.cat(masks, dim=0)


def _file_hash(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _validate_image(folders: NodeFolders, image: str) -> bool | str:
    try:
        exists = folders.annotated(image).is_file()
    except ValueError:
        exists = False
    return True if exists else f"Invalid image file: {image}"


class LoadImage:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": (input_images(cls.folders), {"image_upload": True})}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"
    CATEGORY = "image"

    def load_image(self, image: str) -> tuple[Any, Any]:
        return load_image(self.folders.annotated(image))

    @classmethod
    def IS_CHANGED(cls, image: str) -> str:  # noqa: N802
        return _file_hash(cls.folders.annotated(image))

    @classmethod
    def VALIDATE_INPUTS(cls, image: str) -> bool | str:  # noqa: N802
        return _validate_image(cls.folders, image)


class LoadImageMask:
    folders: ClassVar[NodeFolders]
    CHANNELS: ClassVar[list[str]] = ["alpha", "red", "green", "blue"]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": (input_images(cls.folders), {"image_upload": True}),
                             "channel": (list(cls.CHANNELS),)}}

    RETURN_TYPES = ("MASK",)
    FUNCTION = "load_image"
    CATEGORY = "mask"

    def load_image(self, image: str, channel: str) -> tuple[Any]:
        """One channel as the mask (alpha inverted: 1 where transparent); 64x64 zeros without that channel."""
        import numpy as np
        import torch
        from PIL import Image, ImageOps

        from isolate.compat_modules.node_helpers import pillow

        with pillow(Image.open, self.folders.annotated(image)) as opened:
            img = pillow(ImageOps.exif_transpose, opened)
            img.load()
        if img.getbands() != ("R", "G", "B", "A"):
            if img.mode == "I":
                img = img.point(lambda v: v * (1 / 255))
            img = img.convert("RGBA")
        band = channel[0].upper()
        if band not in img.getbands():
            return (torch.zeros((1, 64, 64), dtype=torch.float32),)
        mask = torch.from_numpy(np.array(img.getchannel(band)).astype(np.float32) / 255.0)
        if band == "A":
            mask = 1.0 - mask
        return (mask[None],)

    @classmethod
    def IS_CHANGED(cls, image: str, channel: str) -> str:  # noqa: N802
        return _file_hash(cls.folders.annotated(image))

    @classmethod
    def VALIDATE_INPUTS(cls, image: str) -> bool | str:  # noqa: N802
        return _validate_image(cls.folders, image)


class ImageScale:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "image": ("IMAGE",), "upscale_method": (list(UPSCALE_METHODS),),
            "width": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
            "height": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
            "crop": (["disabled", "center"],)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = "image/upscaling"

    def upscale(self, image: Any, upscale_method: str, width: int, height: int, crop: str) -> tuple[Any]:
        """A size of 0 keeps the aspect ratio from the other one; both 0 returns the image unchanged."""
        if width == 0 and height == 0:
            return (image,)
        samples = image.movedim(-1, 1)
        if width == 0:
            width = max(1, round(samples.shape[3] * height / samples.shape[2]))
        elif height == 0:
            height = max(1, round(samples.shape[2] * width / samples.shape[3]))
        return (resize(samples, width, height, upscale_method, crop).movedim(1, -1),)


V1_MODULE = "nodes"
V1_DISPLAY_NAMES = {"LoadImage": "Load Image", "LoadImageMask": "Load Image (as Mask)", "ImageScale": "Upscale Image"}


def image_io_classes(folders: NodeFolders) -> tuple[dict[str, type], dict[str, type]]:
    """(live classes, whose combos list the input folder, bound to ``folders``; static classes)."""
    live = {"LoadImage": type("LoadImage", (LoadImage,), {"folders": folders}),
            "LoadImageMask": type("LoadImageMask", (LoadImageMask,), {"folders": folders})}
    return live, {"ImageScale": ImageScale}
