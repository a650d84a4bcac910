"""CLIPVisionLoader and CLIPVisionEncode from ComfyUI's ``nodes`` (``host.models.clip_vision``).

CLIP_VISION is a ``ClipVision``; CLIP_VISION_OUTPUT a ``ClipVisionOutput`` (last_hidden_state,
penultimate_hidden_states, image_embeds; keys and attributes both work, as ComfyUI's ``Output``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager


class CLIPVisionLoader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"clip_name": (cls.folders.models.filename_list("clip_vision"),)}}

    RETURN_TYPES = ("CLIP_VISION",)
    FUNCTION = "load_clip"
    CATEGORY = "loaders"

    def load_clip(self, clip_name: str) -> tuple[Any]:
        from host.models.clip_vision import load_clip_vision

        models = manager()
        path = models.find("clip_vision", clip_name)
        device = models.plan.text_encoder_device
        return (models.cached(("clip_vision", str(device)), path, lambda: load_clip_vision(
            path, device=device, dtype_policy=models.dtype_policy)),)


class CLIPVisionEncode:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"clip_vision": ("CLIP_VISION",), "image": ("IMAGE",), "crop": (["center", "none"],)}}

    RETURN_TYPES = ("CLIP_VISION_OUTPUT",)
    FUNCTION = "encode"
    CATEGORY = "conditioning"

    def encode(self, clip_vision: Any, image: Any, crop: str) -> tuple[Any]:
        models = manager()
        models.use(clip_vision, device=models.plan.text_encoder_device)
        try:
            return (clip_vision.encode_image(image, crop=crop == "center"),)
        finally:
            models.done(clip_vision)


V1_DISPLAY_NAMES = {"CLIPVisionLoader": "Load CLIP Vision", "CLIPVisionEncode": "CLIP Vision Encode"}
V1_CLASSES: dict[str, type] = {"CLIPVisionEncode": CLIPVisionEncode}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    return {"CLIPVisionLoader": type("CLIPVisionLoader", (CLIPVisionLoader,), {"folders": folders})}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "loader_classes"]
