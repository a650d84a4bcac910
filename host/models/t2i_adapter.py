"""The T2I-Adapter (Mou et al. 2023, "T2I-Adapter: Learning Adapters to Dig out More Controllable Ability") for
SD1.x, in TencentARC's key layout (``conv_in``, ``body.i.{in_conv,block1,block2,down_opt.op}``; the diffusers
names ``adapter.body.i.resnets.j.*`` are renamed to it at load).

The hint [B, C, H, W] is pixel-unshuffled by 8 (C·64 channels), ``conv_in`` maps it to c channels, and four
stages of two residual blocks (c, 2c, 4c, 4c; the first block of stages 1-3 halves the size, by a stride-2 conv
when the file has ``down_opt`` weights, else by 2x2 average pooling) each give one feature: the residual added
after input blocks 2, 5, 8 and 11 of the UNet (ComfyUI's "input" control).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

UNSHUFFLE = 8
BLOCKS_PER_STAGE = 2
#: the UNet input block each stage's feature is added after (SD1: 12 input blocks)
FEATURE_BLOCKS = (2, 5, 8, 11)


def diffusers_to_original(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``adapter.body.i.resnets.j.X`` -> ``body.(2i+j).X``, ``adapter.body.i.X`` -> ``body.2i.X``,
    ``adapter.X`` -> ``X``."""
    out = {}
    for key, value in sd.items():
        k = key[len("adapter."):] if key.startswith("adapter.") else key
        parts = k.split(".")
        if parts[0] == "body" and len(parts) > 3 and parts[2] == "resnets":
            k = ".".join(["body", str(int(parts[1]) * BLOCKS_PER_STAGE + int(parts[3])), *parts[4:]])
        elif parts[0] == "body" and len(parts) > 2 and parts[1].isdigit():
            k = ".".join(["body", str(int(parts[1]) * BLOCKS_PER_STAGE), *parts[2:]])
        out[k] = value
    return out


class _Down(nn.Module):
    def __init__(self, ch: int, use_conv: bool, **kw: Any) -> None:
        super().__init__()
        self.use_conv = use_conv
        if use_conv:
            self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_conv:
            return self.op(x)
        return F.avg_pool2d(x, 2, 2, padding=(x.shape[2] % 2, x.shape[3] % 2))


class AdapterBlock(nn.Module):
    """[down] -> [in_conv when the width changes] -> x + block2(relu(block1(x)))."""

    def __init__(self, cin: int, cout: int, down: bool, ksize: int, use_conv: bool, **kw: Any) -> None:
        super().__init__()
        if down:
            self.down_opt = _Down(cin, use_conv, **kw)
        self.in_conv = nn.Conv2d(cin, cout, ksize, padding=ksize // 2, **kw) if cin != cout else None
        self.block1 = nn.Conv2d(cout, cout, 3, padding=1, **kw)
        self.block2 = nn.Conv2d(cout, cout, ksize, padding=ksize // 2, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "down_opt"):
            x = self.down_opt(x)
        if self.in_conv is not None:
            x = self.in_conv(x)
        return x + self.block2(F.relu(self.block1(x)))


class T2IAdapter(nn.Module):
    """``adapter(hint [B, cin/64, H, W]) -> {"input": [...]}``: a list over the UNet's input blocks (None where
    nothing is added), ordered so that popping from its end yields input block 0's entry first."""

    def __init__(self, cin: int = 192, channels: int = 320, ksize: int = 1, use_conv: bool = False,
                 device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.hint_channels = cin // (UNSHUFFLE * UNSHUFFLE)
        widths = (channels, channels * 2, channels * 4, channels * 4)
        self.conv_in = nn.Conv2d(cin, channels, 3, padding=1, **kw)
        blocks = []
        for stage, width in enumerate(widths):
            for j in range(BLOCKS_PER_STAGE):
                first = j == 0 and stage > 0
                blocks.append(AdapterBlock(widths[stage - 1] if first else width, width, first, ksize, use_conv,
                                           **kw))
        self.body = nn.ModuleList(blocks)

    def forward(self, hint: torch.Tensor) -> dict[str, list[torch.Tensor | None]]:
        x = self.conv_in(F.pixel_unshuffle(hint, UNSHUFFLE))
        features: list[torch.Tensor | None] = [None] * (FEATURE_BLOCKS[-1] + 1)
        for stage, block_index in enumerate(FEATURE_BLOCKS):
            for j in range(BLOCKS_PER_STAGE):
                x = self.body[stage * BLOCKS_PER_STAGE + j](x)
            features[block_index] = x
        return {"input": features[::-1]}


def adapter_args_from_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    """T2IAdapter's arguments for an original-layout state dict; None when it is no (full) T2I-Adapter."""
    if "conv_in.weight" not in sd or "body.0.block2.weight" not in sd:
        return None
    channels, cin = sd["conv_in.weight"].shape[:2]
    return {"cin": int(cin), "channels": int(channels), "ksize": int(sd["body.0.block2.weight"].shape[2]),
            "use_conv": any(k.endswith("down_opt.op.weight") for k in sd)}


__all__ = ["T2IAdapter", "adapter_args_from_keys", "diffusers_to_original"]
