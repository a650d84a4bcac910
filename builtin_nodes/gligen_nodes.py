"""GLIGENLoader and GLIGENTextBoxApply from ComfyUI's ``nodes`` (``host.models.gligen``).

GLIGENTextBoxApply encodes the box's text with the CLIP (its pooled output is the phrase embedding) and appends
(pooled, height/8, width/8, y/8, x/8) to each entry's ``gligen`` box list; the sampler grounds the UNet with
it (and gives it to the negative entries too, as ComfyUI).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager

MAX_RESOLUTION = 16384


class GLIGENLoader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"gligen_name": (cls.folders.models.filename_list("gligen"),)}}

    RETURN_TYPES = ("GLIGEN",)
    FUNCTION = "load_gligen"
    CATEGORY = "loaders"

    def load_gligen(self, gligen_name: str) -> tuple[Any]:
        from host.models.gligen import load_gligen

        models = manager()
        path = models.find("gligen", gligen_name)
        return (models.cached(("gligen",), path, lambda: load_gligen(path)),)


class GLIGENTextBoxApply:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        def size(default: int, lo: int) -> tuple[str, dict[str, int]]:
            return ("INT", {"default": default, "min": lo, "max": MAX_RESOLUTION, "step": 8})

        return {"required": {"conditioning_to": ("CONDITIONING",), "clip": ("CLIP",),
                             "gligen_textbox_model": ("GLIGEN",),
                             "text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
                             "width": size(64, 8), "height": size(64, 8), "x": size(0, 0), "y": size(0, 0)}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "append"
    CATEGORY = "conditioning/gligen"

    def append(self, conditioning_to: list[Any], clip: Any, gligen_textbox_model: Any, text: str, width: int,
               height: int, x: int, y: int) -> tuple[list[Any]]:
        _, pooled = clip.encode(clip.tokenize(text))
        box = (pooled, height // 8, width // 8, y // 8, x // 8)
        out = []
        for cond, options in conditioning_to:
            opts = options.copy()
            previous = list(opts["gligen"][2]) if "gligen" in opts else []
            opts["gligen"] = ("position", gligen_textbox_model, [*previous, box])
            out.append([cond, opts])
        return (out,)


V1_DISPLAY_NAMES: dict[str, str] = {}
V1_CLASSES: dict[str, type] = {"GLIGENTextBoxApply": GLIGENTextBoxApply}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    return {"GLIGENLoader": type("GLIGENLoader", (GLIGENLoader,), {"folders": folders})}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "loader_classes"]
