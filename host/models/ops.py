"""Layers the model code builds with: ``torch.nn`` ones (same parameters, same state-dict keys) that

- compute in their input's dtype when their weights are stored in another one: weights kept in fp8
  (``UNETLoader``'s ``weight_dtype``, ``--fp8_e4m3fn-unet``) are cast per call, as ComfyUI's manual-cast layers do;
- run faster CPU inference where torch offers it:

``Conv2d``: on the CPU, in inference (no grad), fp32, at feature maps of at most 16x16, oneDNN reorders a plain
weight to its blocked layout on every call; at the UNet's deep levels (1280 channels at 2x2..16x16) that reorder costs
several times the convolution itself. The weight is prepacked once (``torch.ops.mkldnn_prepacked.conv2d_prepack``,
the op ``torch.jit.freeze`` uses: one reorder straight from the dense weight, no intermediate copy) for the first input
shape seen, and the packed context kept beside the weight, rebuilt when the weight or bias changes (its storage or
version: a LoRA patch, a move). Same arithmetic (oneDNN computes both): results equal ``F.conv2d``'s bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: feature maps up to this many pixels use the reordered weight (measured: 1.1-2.5x faster at 16x16 and below,
#: 5-12% slower at 32x32)
PACK_MAX_PIXELS = 16 * 16


def _packable(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and (bias is None or bias.dtype == torch.float32)
            and x.dim() == 4 and x.shape[2] * x.shape[3] <= PACK_MAX_PIXELS and not torch.is_grad_enabled()
            and torch.backends.mkldnn.is_available() and not weight.is_meta)


def _cast(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """``t`` in ``like``'s dtype and device (a copy only when they differ)."""
    if t is None or (t.dtype == like.dtype and t.device == like.device):
        return t
    return t.to(device=like.device, dtype=like.dtype)


class Linear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, _cast(self.weight, x), _cast(self.bias, x))


class GroupNorm(nn.GroupNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.num_groups, _cast(self.weight, x), _cast(self.bias, x), self.eps)


class LayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, _cast(self.weight, x), _cast(self.bias, x), self.eps)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` with a cached prepacked weight on the CPU."""

    _packed: Any = None
    _packed_for: tuple[int, ...] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.weight, self.bias
        if self.padding_mode != "zeros" or isinstance(self.padding, str) or not _packable(x, w, b):
            return self._conv_forward(x, _cast(w, x), _cast(b, x))
        stamp = (w.data_ptr(), w._version) + (() if b is None else (b.data_ptr(), b._version))
        if self._packed is None or self._packed_for != stamp:
            self._packed = None  # the old context's memory goes before the new one is made
            self._packed = torch.ops.mkldnn_prepacked.conv2d_prepack(
                w.detach().contiguous(), None if b is None else b.detach(), list(self.stride), list(self.padding),
                list(self.dilation), self.groups, list(x.shape), "none")
            self._packed_for = stamp
        return torch.ops.mkldnn_prepacked.conv2d_run(x.contiguous(), self._packed)

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        self._packed = self._packed_for = None  # a move or cast: the blocked copy is rebuilt from the new weight
        return super()._apply(fn, recurse)


def packed_bytes(module: nn.Module) -> int:
    """Bytes the packed weight copies of ``module``'s convolutions hold (beside their weights)."""
    return sum(m.weight.numel() * 4 for m in module.modules() if isinstance(m, Conv2d) and m._packed is not None)


__all__ = ["PACK_MAX_PIXELS", "Conv2d", "GroupNorm", "LayerNorm", "Linear", "packed_bytes"]
