"""ComfyUI's SaveImage and PreviewImage as v1 classes in a pack child, with ComfyUI's attributes
(``output_dir``, ``type``, ``prefix_append``, ``compress_level``, ``save_images``): packs subclass them and
call ``self.save_images(...)``; the files are written here, where the host would write them (the child's
``folder_paths`` holds the host's folders), named and tagged as the host's SaveImage does
(``prefix_00001_.png``, the prompt and each extra_pnginfo key as PNG text chunks unless metadata is off).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from isolate.paths import claim_image_name

_SAVE_DESCRIPTION = "Saves the input images to your ComfyUI output directory."


def metadata_enabled() -> bool:
    from isolate.core_nodes import host_info

    return not (host_info().get("args") or {}).get("disable_metadata", False)


class SaveImage:
    def __init__(self) -> None:
        import folder_paths

        self.output_dir = folder_paths.get_output_directory()
        self.type = "output"
        self.prefix_append = ""
        self.compress_level = 4

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"images": ("IMAGE", {"tooltip": "The images to save."}),
                             "filename_prefix": ("STRING", {"default": "ComfyUI", "tooltip": (
                                 "The prefix for the file to save. This may include formatting information such "
                                 "as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from "
                                 "nodes.")})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    CATEGORY = "image"
    DESCRIPTION = _SAVE_DESCRIPTION

    def save_images(self, images: Any, filename_prefix: str = "ComfyUI", prompt: Any = None,
                    extra_pnginfo: Any = None) -> dict[str, Any]:
        import folder_paths
        import numpy as np
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        filename_prefix += self.prefix_append
        folder, stem, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, self.output_dir, images[0].shape[1], images[0].shape[0])
        results = []
        for batch_number, image in enumerate(images):
            pixels = np.clip(255.0 * image.cpu().numpy(), 0, 255).astype(np.uint8)
            meta = None
            if metadata_enabled():
                meta = PngInfo()
                if prompt is not None:
                    meta.add_text("prompt", json.dumps(prompt))
                for key, value in (extra_pnginfo or {}).items():
                    meta.add_text(key, json.dumps(value))
            name, counter = claim_image_name(Path(folder), stem.replace('%batch_num%', str(batch_number)), counter)
            Image.fromarray(pixels).save(os.path.join(folder, name), pnginfo=meta, compress_level=self.compress_level)
            results.append({"filename": name, "subfolder": subfolder, "type": self.type})
            counter += 1
        return {"ui": {"images": results}}


class PreviewImage(SaveImage):
    def __init__(self) -> None:
        import folder_paths

        self.output_dir = folder_paths.get_temp_directory()
        self.type = "temp"
        self.prefix_append = "_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz") for _ in range(5))
        self.compress_level = 1

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"images": ("IMAGE",)}, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    DESCRIPTION = "Saves the input images to your ComfyUI output directory."


for _cls in (SaveImage, PreviewImage):
    _cls.__module__ = "nodes"

LOCAL: dict[str, type] = {"SaveImage": SaveImage, "PreviewImage": PreviewImage}
