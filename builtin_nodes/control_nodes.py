"""ControlNet nodes from ComfyUI's ``nodes``: ControlNetLoader, DiffControlNetLoader, ControlNetApply (OLD),
ControlNetApplyAdvanced.

A CONTROL_NET is a ``host.models.sampling.control.ControlModel`` (a ControlNet or T2I-Adapter, read by
``host.models.control_loading``). Applying one puts a ``Control`` (hint, strength, start/end percent, the
entry's previous control to chain) in each entry's ``"control"``; the sampler computes its residuals per step.
ControlNetApplyAdvanced gives positive and negative entries that had the same previous control one shared
Control, so they run in one batch; ControlNetApply marks its entries ``control_apply_to_uncond`` (the sampler
gives the control to the negative too). Strength 0 returns the conditioning unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager

_STRENGTH = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01})
_PERCENT = {"min": 0.0, "max": 1.0, "step": 0.001}


class _ControlLoader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def files(cls) -> list[str]:
        return cls.folders.models.filename_list("controlnet")

    RETURN_TYPES = ("CONTROL_NET",)
    FUNCTION = "load_controlnet"
    CATEGORY = "loaders"


def _load(name: str, base: Any = None) -> Any:
    from host.models.control_loading import load_control

    models = manager()
    path = models.find("controlnet", name)
    key = ("controlnet",) if base is None else ("diff_controlnet", id(base))
    return models.cached(key, path, lambda: load_control(path, device=models.device,
                                                         dtype_policy=models.dtype_policy, base=base))


class ControlNetLoader(_ControlLoader):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"control_net_name": (cls.files(),)}}

    def load_controlnet(self, control_net_name: str) -> tuple[Any]:
        return (_load(control_net_name),)


class DiffControlNetLoader(_ControlLoader):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"model": ("MODEL",), "control_net_name": (cls.files(),)}}

    def load_controlnet(self, model: Any, control_net_name: str) -> tuple[Any]:
        return (_load(control_net_name, base=model),)


class ControlNetApply:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": ("CONDITIONING",), "control_net": ("CONTROL_NET",),
                             "image": ("IMAGE",), "strength": _STRENGTH}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_controlnet"
    CATEGORY = "conditioning/controlnet"
    DEPRECATED = True

    def apply_controlnet(self, conditioning: list[Any], control_net: Any, image: Any,
                         strength: float) -> tuple[list[Any]]:
        if strength == 0:
            return (conditioning,)
        hint = image.movedim(-1, 1)
        out = []
        for cond, options in conditioning:
            opts = options.copy()
            opts["control"] = control_net.apply(hint, strength, previous=options.get("control"))
            opts["control_apply_to_uncond"] = True
            out.append([cond, opts])
        return (out,)


class ControlNetApplyAdvanced:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "control_net": ("CONTROL_NET",), "image": ("IMAGE",), "strength": _STRENGTH,
                             "start_percent": ("FLOAT", {"default": 0.0, **_PERCENT}),
                             "end_percent": ("FLOAT", {"default": 1.0, **_PERCENT})},
                "optional": {"vae": ("VAE",)}}

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("positive", "negative")
    FUNCTION = "apply_controlnet"
    CATEGORY = "conditioning/controlnet"

    def apply_controlnet(self, positive: list[Any], negative: list[Any], control_net: Any, image: Any,
                         strength: float, start_percent: float, end_percent: float,
                         vae: Any = None) -> tuple[list[Any], list[Any]]:
        if strength == 0:
            return (positive, negative)
        hint = image.movedim(-1, 1)
        shared: dict[int, tuple[Any, Any]] = {}  # id(previous control) -> (previous, the Control made for it)
        lists = []
        for conditioning in (positive, negative):
            out = []
            for cond, options in conditioning:
                opts = options.copy()
                prev = options.get("control")
                if id(prev) not in shared:
                    shared[id(prev)] = (prev, control_net.apply(hint, strength, start_percent, end_percent, prev))
                opts["control"] = shared[id(prev)][1]
                opts["control_apply_to_uncond"] = False
                out.append([cond, opts])
            lists.append(out)
        return (lists[0], lists[1])


V1_DISPLAY_NAMES = {"ControlNetLoader": "Load ControlNet Model", "DiffControlNetLoader": "Load ControlNet Model (diff)",
                    "ControlNetApply": "Apply ControlNet (OLD)", "ControlNetApplyAdvanced": "Apply ControlNet"}
V1_CLASSES: dict[str, type] = {"ControlNetApply": ControlNetApply, "ControlNetApplyAdvanced": ControlNetApplyAdvanced}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    """The loaders bound to ``folders`` (live: their combos list the controlnet folders)."""
    return {cls.__name__: type(cls.__name__, (cls,), {"folders": folders})
            for cls in (ControlNetLoader, DiffControlNetLoader)}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "loader_classes"]
