"""Latent batch and transform nodes of ComfyUI's ``nodes`` (v1 classes, as ComfyUI 0.8.0 defines them):
LatentFromBatch, RepeatLatentBatch, LatentComposite, LatentBlend, LatentCrop, LatentRotate, LatentFlip.

Positions and sizes are in pixels, divided by 8 for the latent. Each node copies the LATENT dict and replaces
what it changes. torch is imported inside the bodies.
"""

from __future__ import annotations

import math
from typing import Any

from builtin_nodes.image_ops import resize
from builtin_nodes.tensor_fit import repeat_to_batch

MAX_RESOLUTION = 16384


def _px(default: int, lo: int = 0) -> tuple[str, dict[str, int]]:
    return ("INT", {"default": default, "min": lo, "max": MAX_RESOLUTION, "step": 8})


def _fit_masks(masks: Any, batch: int) -> Any:
    """A noise mask batch repeated (whole copies, then cut) up to ``batch`` when it is shorter."""
    if masks.shape[0] < batch:
        masks = masks.repeat((math.ceil(batch / masks.shape[0]),) + (1,) * (masks.ndim - 1))[:batch]
    return masks


class LatentFromBatch:
    """``length`` items from ``batch_index`` (clamped to the last item, the length to what is left), with their
    noise masks and batch indices (0..B-1 when the latent had none)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",),
                             "batch_index": ("INT", {"default": 0, "min": 0, "max": 63}),
                             "length": ("INT", {"default": 1, "min": 1, "max": 64})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "frombatch"
    CATEGORY = "latent/batch"

    def frombatch(self, samples: dict[str, Any], batch_index: int, length: int) -> tuple[dict[str, Any]]:
        s = samples.copy()
        s_in = samples["samples"]
        batch_index = min(s_in.shape[0] - 1, batch_index)
        length = min(s_in.shape[0] - batch_index, length)
        s["samples"] = s_in[batch_index:batch_index + length].clone()
        if "noise_mask" in samples:
            masks = samples["noise_mask"]
            if masks.shape[0] == 1:
                s["noise_mask"] = masks.clone()
            else:
                s["noise_mask"] = _fit_masks(masks, s_in.shape[0])[batch_index:batch_index + length].clone()
        if "batch_index" in samples:
            s["batch_index"] = list(samples["batch_index"])[batch_index:batch_index + length]
        else:
            s["batch_index"] = list(range(batch_index, batch_index + length))
        return (s,)


class RepeatLatentBatch:
    """The batch repeated ``amount`` times; a per-item noise mask too, batch indices continued past the
    repeated block (each copy offset by the span of the indices)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",), "amount": ("INT", {"default": 1, "min": 1, "max": 64})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "repeat"
    CATEGORY = "latent/batch"

    def repeat(self, samples: dict[str, Any], amount: int) -> tuple[dict[str, Any]]:
        s = samples.copy()
        s_in = samples["samples"]
        s["samples"] = s_in.repeat((amount,) + (1,) * (s_in.ndim - 1))
        masks = samples.get("noise_mask")
        if masks is not None and masks.shape[0] > 1:
            masks = _fit_masks(masks, s_in.shape[0])
            s["noise_mask"] = masks.repeat((amount,) + (1,) * (masks.ndim - 1))
        if "batch_index" in s:
            index = list(s["batch_index"])
            offset = max(index) - min(index) + 1
            s["batch_index"] = index + [x + i * offset for i in range(1, amount) for x in index]
        return (s,)


def _feather_weights(size: int, feather: int, lead: bool, trail: bool) -> Any:
    """ComfyUI's LatentComposite ramp along one axis of the pasted block: for t < feather, entry t (when the
    block does not start at the edge) and entry size-1-t (when it does not reach the far edge) are multiplied
    by (t + 1) / feather; the slices are Python's, so t >= size wraps round as in ComfyUI."""
    import torch

    weights = torch.ones(size)
    for t in range(feather):
        rate = (1.0 / feather) * (t + 1)
        if lead:
            weights[t:1 + t] *= rate
        if trail:
            weights[size - 1 - t:size - t] *= rate
    return weights


class LatentComposite:
    """samples_from pasted into samples_to at (x, y) // 8, cut to fit; with ``feather`` (// 8) the block's
    inner edges ramp linearly into samples_to. samples_from's batch is fitted to samples_to's; a position
    past the edge pastes nothing."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples_to": ("LATENT",), "samples_from": ("LATENT",), "x": _px(0), "y": _px(0),
                             "feather": _px(0)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "composite"
    CATEGORY = "latent"

    def composite(self, samples_to: dict[str, Any], samples_from: dict[str, Any], x: int, y: int,
                  composite_method: str = "normal", feather: int = 0) -> tuple[dict[str, Any]]:
        out = samples_to.copy()
        s = samples_to["samples"].clone()
        to_h, to_w = s.shape[2], s.shape[3]
        x, y, feather = min(x // 8, to_w), min(y // 8, to_h), feather // 8
        block = repeat_to_batch(samples_from["samples"], s.shape[0])[:, :, :to_h - y, :to_w - x].to(s)
        h, w = block.shape[2], block.shape[3]
        if feather == 0:
            s[:, :, y:y + h, x:x + w] = block
        else:
            rows = _feather_weights(h, feather, y != 0, y + h < to_h)
            cols = _feather_weights(w, feather, x != 0, x + w < to_w)
            mask = (rows[:, None] * cols[None, :]).to(s)
            s[:, :, y:y + h, x:x + w] = block * mask + s[:, :, y:y + h, x:x + w] * (1.0 - mask)
        out["samples"] = s
        return (out,)


class LatentBlend:
    """``samples1 * blend_factor + samples2 * (1 - blend_factor)``; samples2 of another shape is first
    centre-cropped and resized (bicubic) to samples1's size."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples1": ("LATENT",), "samples2": ("LATENT",),
                             "blend_factor": ("FLOAT", {"default": 0.5, "min": 0, "max": 1, "step": 0.01})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "blend"
    CATEGORY = "_for_testing"

    def blend(self, samples1: dict[str, Any], samples2: dict[str, Any], blend_factor: float,
              blend_mode: str = "normal") -> tuple[dict[str, Any]]:
        if blend_mode != "normal":
            raise ValueError(f"Unsupported blend mode: {blend_mode}")
        out = samples1.copy()
        s1, s2 = samples1["samples"], samples2["samples"]
        if s1.shape != s2.shape:
            s2 = resize(s2, s1.shape[3], s1.shape[2], "bicubic", crop="center")
        out["samples"] = s1 * blend_factor + s2 * (1 - blend_factor)
        return (out,)


class LatentCrop:
    """A width x height (// 8) window at (x, y) // 8; the corner is kept at least 8 latent pixels (64 px) from
    the right and bottom edges, and the window is cut to the latent."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",), "width": _px(512, 64), "height": _px(512, 64),
                             "x": _px(0), "y": _px(0)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "crop"
    CATEGORY = "latent/transform"

    def crop(self, samples: dict[str, Any], width: int, height: int, x: int, y: int) -> tuple[dict[str, Any]]:
        s = samples.copy()
        lat = samples["samples"]
        x = max(0, min(x // 8, lat.shape[3] - 8))
        y = max(0, min(y // 8, lat.shape[2] - 8))
        s["samples"] = lat[:, :, y:y + height // 8, x:x + width // 8]
        return (s,)


class LatentRotate:
    """Clockwise by 90, 180 or 270 degrees."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",),
                             "rotation": (["none", "90 degrees", "180 degrees", "270 degrees"],)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "rotate"
    CATEGORY = "latent/transform"

    def rotate(self, samples: dict[str, Any], rotation: str) -> tuple[dict[str, Any]]:
        import torch

        s = samples.copy()
        turns = {"90": 1, "180": 2, "270": 3}.get(rotation.split(" ")[0], 0)
        s["samples"] = torch.rot90(samples["samples"], k=turns, dims=[3, 2])
        return (s,)


class LatentFlip:
    """"x-axis" flips top to bottom, "y-axis" left to right."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",),
                             "flip_method": (["x-axis: vertically", "y-axis: horizontally"],)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "flip"
    CATEGORY = "latent/transform"

    def flip(self, samples: dict[str, Any], flip_method: str) -> tuple[dict[str, Any]]:
        import torch

        s = samples.copy()
        if flip_method.startswith("x"):
            s["samples"] = torch.flip(samples["samples"], dims=[2])
        elif flip_method.startswith("y"):
            s["samples"] = torch.flip(samples["samples"], dims=[3])
        return (s,)


V1_CLASSES = {"LatentFromBatch": LatentFromBatch, "RepeatLatentBatch": RepeatLatentBatch,
              "LatentComposite": LatentComposite, "LatentBlend": LatentBlend, "LatentCrop": LatentCrop,
              "LatentRotate": LatentRotate, "LatentFlip": LatentFlip}
V1_DISPLAY_NAMES = {"LatentFromBatch": "Latent From Batch", "RepeatLatentBatch": "Repeat Latent Batch",
                    "LatentComposite": "Latent Composite", "LatentBlend": "Latent Blend",
                    "LatentCrop": "Crop Latent", "LatentRotate": "Rotate Latent", "LatentFlip": "Flip Latent"}
