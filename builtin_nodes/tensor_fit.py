"""Fitting one tensor to another's batch or size, as ComfyUI's image, mask and latent nodes do.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math
from typing import Any


def repeat_to_batch(tensor: Any, batch_size: int) -> Any:
    """``tensor`` cut to, or repeated (whole copies, then cut) up to, ``batch_size`` along dim 0
    (``comfy.utils.repeat_to_batch_size``)."""
    n = tensor.shape[0]
    if n > batch_size:
        return tensor[:batch_size]
    if n < batch_size:
        reps = (math.ceil(batch_size / n),) + (1,) * (tensor.ndim - 1)
        return tensor.repeat(reps)[:batch_size]
    return tensor


def as_mask_batch(mask: Any) -> Any:
    """A MASK ([H, W] or [B, H, W], or [B, 1, H, W]) as [B, H, W]."""
    return mask.reshape((-1, mask.shape[-2], mask.shape[-1]))


def resize_frames(samples: Any, width: int, height: int, method: str, crop: str = "disabled") -> Any:
    """``image_ops.resize`` of [B, C, H, W], or of [B, C, T..., H, W] frame by frame (as ``common_upscale``)."""
    from builtin_nodes.image_ops import resize

    if samples.ndim <= 4:
        return resize(samples, width, height, method, crop)
    b, c, inner = samples.shape[0], samples.shape[1], tuple(samples.shape[2:-2])
    flat = samples.reshape(b, c, -1, *samples.shape[-2:]).movedim(2, 1).reshape(-1, c, *samples.shape[-2:])
    out = resize(flat, width, height, method, crop)
    return out.reshape(b, -1, c, *out.shape[-2:]).movedim(1, 2).reshape(b, c, *inner, *out.shape[-2:])


def reshape_latent_to(target_shape: Any, latent: Any, repeat_batch: bool = True) -> Any:
    """``latent`` made to fit ``target_shape``: when anything but the batch differs it is centre-cropped to the
    target's aspect ratio and resized bilinearly to its size; then (``repeat_batch``) fitted to its batch."""
    if tuple(latent.shape[1:]) != tuple(target_shape[1:]):
        latent = resize_frames(latent, target_shape[-1], target_shape[-2], "bilinear", crop="center")
    return repeat_to_batch(latent, target_shape[0]) if repeat_batch else latent


class MissingChannel(ValueError):
    """An image lacks the channel a node was asked for (alpha of an RGB image)."""


__all__ = ["MissingChannel", "as_mask_batch", "repeat_to_batch", "reshape_latent_to", "resize_frames"]
