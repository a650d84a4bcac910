"""ComfyUI's ``comfy.comfy_types``: the node typing names plus the UNet wrapper signatures (for hints only;
torch is not imported)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from .node_typing import (
    IO,
    CheckLazyMixin,
    ComfyNodeABC,
    FileLocator,
    HiddenInputTypeDict,
    InputTypeDict,
    InputTypeOptions,
)

if TYPE_CHECKING:
    import torch


class UnetApplyFunction(Protocol):
    """The signature of a model's ``apply_model``."""

    def __call__(self, x: torch.Tensor, t: torch.Tensor, **kwargs: Any) -> torch.Tensor: ...


class UnetApplyConds(TypedDict):
    c_concat: torch.Tensor | None
    c_crossattn: torch.Tensor | None
    control: torch.Tensor | None
    transformer_options: dict | None


class UnetParams(TypedDict):
    input: torch.Tensor  # [B, C, H, W]
    timestep: torch.Tensor  # [B]
    c: UnetApplyConds
    cond_or_uncond: list[int]  # per batch chunk: 0 conditional, 1 unconditional


UnetWrapperFunction = Callable[[UnetApplyFunction, UnetParams], "torch.Tensor"]

__all__ = ["IO", "CheckLazyMixin", "ComfyNodeABC", "FileLocator", "HiddenInputTypeDict", "InputTypeDict",
           "InputTypeOptions", "UnetApplyConds", "UnetApplyFunction", "UnetParams", "UnetWrapperFunction"]
