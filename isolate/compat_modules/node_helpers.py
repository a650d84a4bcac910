"""ComfyUI's ``node_helpers`` for node packs: conditioning edits, tolerant PIL loading, the file hasher, dtype
names and alpha matching. torch and PIL are imported inside the functions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


def conditioning_set_values(conditioning: list[Any], values: dict[str, Any] | None = None,
                            append: bool = False) -> list[list[Any]]:
    """A copy of ``conditioning`` ([[tensor, options], ...]) with ``values`` set in every options dict;
    ``append`` adds to an existing value (``old + new``) instead of replacing it."""
    out = []
    for tensor, options in conditioning:
        options = options.copy()
        for key, value in (values or {}).items():
            old = options.get(key) if append else None
            options[key] = old + value if old is not None else value
        out.append([tensor, options])
    return out


def pillow(fn: Callable[[Any], Any], arg: Any) -> Any:
    """``fn(arg)``, retried once with ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` on when PIL rejects the file."""
    from PIL import ImageFile, UnidentifiedImageError

    try:
        return fn(arg)
    except (OSError, UnidentifiedImageError, ValueError):
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            return fn(arg)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def hasher() -> Callable[..., Any]:
    """The hash constructor used for file fingerprints (ComfyUI's default, sha256)."""
    return hashlib.sha256


def string_to_torch_dtype(string: str) -> Any:
    """``"fp32"``/``"fp16"``/``"bf16"`` to the torch dtype (None for anything else)."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(string)


def image_alpha_fix(destination: Any, source: Any) -> tuple[Any, Any]:
    """Match the channel count of ``source`` to ``destination`` (``[..., C]`` images): drop the source's extra
    alpha, or give it an opaque one (what current ComfyUI does; older releases padded the destination)."""
    import torch

    if destination.shape[-1] < source.shape[-1]:
        source = source[..., :destination.shape[-1]]
    elif destination.shape[-1] > source.shape[-1]:
        source = torch.nn.functional.pad(source, (0, 1))
        source[..., -1] = 1.0
    return destination, source
