"""``comfy_api.input``: the input value types (``ImageInput``/``MaskInput`` are ``torch.Tensor``)."""

from typing import Any

from isolate.api.namespaces import AudioInput, LatentInput, VideoInput

__all__ = ["AudioInput", "ImageInput", "LatentInput", "MaskInput", "VideoInput"]


def __getattr__(name: str) -> Any:
    if name in ("ImageInput", "MaskInput"):
        import torch

        return torch.Tensor
    raise AttributeError(f"module 'comfy_api.input' has no attribute {name!r}")
