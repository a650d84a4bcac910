"""Conditioning nodes from ComfyUI's ``nodes``: Combine, Concat, Average, SetArea, SetAreaPercentage,
SetAreaStrength, SetMask, ZeroOut, SetTimestepRange.

CONDITIONING is a list of ``[cond Tensor[B, T, D], options dict]``; the options keys ("pooled_output", "area",
"strength", "mask", "set_area_to_bounds", "mask_strength", "start_percent", "end_percent") are read by the
sampler. Every node returns new entries with copied options; tensors are shared, never modified.
"""

from __future__ import annotations

import logging
from typing import Any

from isolate.compat_modules.node_helpers import conditioning_set_values

log = logging.getLogger("nodehost.nodes")

MAX_RESOLUTION = 16384
_COND = ("CONDITIONING",)
_STRENGTH = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01})


class _CondNode:
    RETURN_TYPES = ("CONDITIONING",)
    CATEGORY = "conditioning"


class ConditioningCombine(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning_1": _COND, "conditioning_2": _COND}}

    FUNCTION = "combine"

    def combine(self, conditioning_1: list[Any], conditioning_2: list[Any]) -> tuple[list[Any]]:
        return (conditioning_1 + conditioning_2,)


class ConditioningConcat(_CondNode):
    """Each entry of ``conditioning_to`` gets the first entry of ``conditioning_from`` appended along tokens."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning_to": _COND, "conditioning_from": _COND}}

    FUNCTION = "concat"

    def concat(self, conditioning_to: list[Any], conditioning_from: list[Any]) -> tuple[list[Any]]:
        import torch

        if len(conditioning_from) > 1:
            log.warning("ConditioningConcat: conditioning_from has several entries; only the first is used")
        cond_from = conditioning_from[0][0]
        return ([[torch.cat((cond, cond_from), 1), options.copy()] for cond, options in conditioning_to],)


class ConditioningAverage(_CondNode):
    """``to * s + from * (1 - s)`` per entry of ``conditioning_to`` (``from`` cut or zero-padded to its length),
    pooled outputs likewise."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning_to": _COND, "conditioning_from": _COND,
                             "conditioning_to_strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0,
                                                                    "step": 0.01})}}

    FUNCTION = "addWeighted"

    def addWeighted(self, conditioning_to: list[Any], conditioning_from: list[Any],  # noqa: N802
                    conditioning_to_strength: float) -> tuple[list[Any]]:
        import torch

        if len(conditioning_from) > 1:
            log.warning("ConditioningAverage: conditioning_from has several entries; only the first is used")
        s = conditioning_to_strength
        cond_from = conditioning_from[0][0]
        pooled_from = conditioning_from[0][1].get("pooled_output")
        out = []
        for cond, options in conditioning_to:
            pooled_to = options.get("pooled_output", pooled_from)
            t0 = cond_from[:, :cond.shape[1]]
            if t0.shape[1] < cond.shape[1]:
                pad = torch.zeros((1, cond.shape[1] - t0.shape[1], cond.shape[2]), dtype=t0.dtype, device=t0.device)
                t0 = torch.cat([t0, pad], dim=1)
            new = options.copy()
            if pooled_from is not None and pooled_to is not None:
                new["pooled_output"] = pooled_to * s + pooled_from * (1.0 - s)
            elif pooled_from is not None:
                new["pooled_output"] = pooled_from
            out.append([cond * s + t0 * (1.0 - s), new])
        return (out,)


class ConditioningSetArea(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        size = {"default": 64, "min": 64, "max": MAX_RESOLUTION, "step": 8}
        pos = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"conditioning": _COND, "width": ("INT", size), "height": ("INT", dict(size)),
                             "x": ("INT", pos), "y": ("INT", dict(pos)), "strength": _STRENGTH}}

    FUNCTION = "append"

    def append(self, conditioning: list[Any], width: int, height: int, x: int, y: int,
               strength: float) -> tuple[list[Any]]:
        """The area in latent pixels: (height, width, y, x) // 8."""
        return (conditioning_set_values(conditioning, {"area": (height // 8, width // 8, y // 8, x // 8),
                                                       "strength": strength, "set_area_to_bounds": False}),)


class ConditioningSetAreaPercentage(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        frac = {"default": 1.0, "min": 0, "max": 1.0, "step": 0.01}
        pos = {"default": 0, "min": 0, "max": 1.0, "step": 0.01}
        return {"required": {"conditioning": _COND, "width": ("FLOAT", frac), "height": ("FLOAT", dict(frac)),
                             "x": ("FLOAT", pos), "y": ("FLOAT", dict(pos)), "strength": _STRENGTH}}

    FUNCTION = "append"

    def append(self, conditioning: list[Any], width: float, height: float, x: float, y: float,
               strength: float) -> tuple[list[Any]]:
        return (conditioning_set_values(conditioning, {"area": ("percentage", height, width, y, x),
                                                       "strength": strength, "set_area_to_bounds": False}),)


class ConditioningSetAreaStrength(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": _COND, "strength": _STRENGTH}}

    FUNCTION = "append"

    def append(self, conditioning: list[Any], strength: float) -> tuple[list[Any]]:
        return (conditioning_set_values(conditioning, {"strength": strength}),)


class ConditioningSetMask(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": _COND, "mask": ("MASK",), "strength": _STRENGTH,
                             "set_cond_area": (["default", "mask bounds"],)}}

    FUNCTION = "append"

    def append(self, conditioning: list[Any], mask: Any, set_cond_area: str, strength: float) -> tuple[list[Any]]:
        if mask.dim() < 3:
            mask = mask.unsqueeze(0)
        return (conditioning_set_values(conditioning, {"mask": mask, "set_area_to_bounds": set_cond_area != "default",
                                                       "mask_strength": strength}),)


class ConditioningZeroOut(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": _COND}}

    FUNCTION = "zero_out"
    CATEGORY = "advanced/conditioning"

    def zero_out(self, conditioning: list[Any]) -> tuple[list[Any]]:
        import torch

        out = []
        for cond, options in conditioning:
            new = options.copy()
            for key in ("pooled_output", "conditioning_lyrics"):
                if new.get(key) is not None:
                    new[key] = torch.zeros_like(new[key])
            out.append([torch.zeros_like(cond), new])
        return (out,)


class ConditioningSetTimestepRange(_CondNode):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": _COND,
                             "start": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.001}),
                             "end": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.001})}}

    FUNCTION = "set_range"
    CATEGORY = "advanced/conditioning"

    def set_range(self, conditioning: list[Any], start: float, end: float) -> tuple[list[Any]]:
        return (conditioning_set_values(conditioning, {"start_percent": start, "end_percent": end}),)


V1_MODULE = "nodes"
V1_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    ConditioningCombine, ConditioningConcat, ConditioningAverage, ConditioningSetArea, ConditioningSetAreaPercentage,
    ConditioningSetAreaStrength, ConditioningSetMask, ConditioningZeroOut, ConditioningSetTimestepRange)}
V1_DISPLAY_NAMES = {"ConditioningCombine": "Conditioning (Combine)", "ConditioningConcat": "Conditioning (Concat)",
                    "ConditioningSetArea": "Conditioning (Set Area)",
                    "ConditioningSetAreaPercentage": "Conditioning (Set Area with Percentage)",
                    "ConditioningSetMask": "Conditioning (Set Mask)"}
