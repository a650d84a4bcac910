"""StyleModelLoader and StyleModelApply from ComfyUI's ``nodes`` (``host.models.style_model``).

StyleModelApply turns the CLIP vision output into style tokens (the batch flattened into one sequence) and
appends them to every conditioning entry; "multiply" scales them by the strength, "attn_bias" adds log(strength)
as an attention bias on them in the entry's ``attention_mask`` (read by models that take one, such as Flux; the
SD UNets, like ComfyUI's, do not).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager


class StyleModelLoader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"style_model_name": (cls.folders.models.filename_list("style_models"),)}}

    RETURN_TYPES = ("STYLE_MODEL",)
    FUNCTION = "load_style_model"
    CATEGORY = "loaders"

    def load_style_model(self, style_model_name: str) -> tuple[Any]:
        from host.models.style_model import load_style_model

        models = manager()
        path = models.find("style_models", style_model_name)
        return (models.cached(("style_model",), path, lambda: load_style_model(path)),)


class StyleModelApply:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": ("CONDITIONING",), "style_model": ("STYLE_MODEL",),
                             "clip_vision_output": ("CLIP_VISION_OUTPUT",),
                             "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.001}),
                             "strength_type": (["multiply", "attn_bias"],)}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_stylemodel"
    CATEGORY = "conditioning/style_model"

    def apply_stylemodel(self, conditioning: list[Any], style_model: Any, clip_vision_output: Any, strength: float,
                         strength_type: str) -> tuple[list[Any]]:
        from host.models.style_model import apply_style

        cond = style_model.get_cond(clip_vision_output).flatten(start_dim=0, end_dim=1).unsqueeze(dim=0)
        return (apply_style(conditioning, cond, strength, strength_type),)


V1_DISPLAY_NAMES = {"StyleModelLoader": "Load Style Model", "StyleModelApply": "Apply Style Model"}
V1_CLASSES: dict[str, type] = {"StyleModelApply": StyleModelApply}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    return {"StyleModelLoader": type("StyleModelLoader", (StyleModelLoader,), {"folders": folders})}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "loader_classes"]
