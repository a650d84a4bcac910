"""The KL autoencoder of SD1/SD2 (``first_stage_model.*``), attribute names = checkpoint keys. MODELS_FACTS §8:
GroupNorm(32, eps 1e-6), SiLU, downsample = pad (0,1,0,1) then stride-2 conv, upsample = nearest x2 then conv,
single-head mid attention of width C; encode takes the posterior mean; decode has no tanh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class VAEConfig:
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 4


def _norm(c: int, **kw: Any) -> nn.GroupNorm:
    return nn.GroupNorm(32, c, eps=1e-6, **kw)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, **kw: Any) -> None:
        super().__init__()
        self.norm1 = _norm(cin, **kw)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, **kw)
        self.norm2 = _norm(cout, **kw)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, **kw)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class AttnBlock(nn.Module):
    def __init__(self, c: int, **kw: Any) -> None:
        super().__init__()
        self.norm = _norm(c, **kw)
        self.q, self.k, self.v = (nn.Conv2d(c, c, 1, **kw) for _ in range(3))
        self.proj_out = nn.Conv2d(c, c, 1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)
        q, k, v = (m(n).reshape(b, 1, c, h * w).transpose(2, 3) for m in (self.q, self.k, self.v))  # [B,1,HW,C]
        out = F.scaled_dot_product_attention(q, k, v).transpose(2, 3).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Mid(nn.Module):
    def __init__(self, c: int, **kw: Any) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(c, c, **kw)
        self.attn_1 = AttnBlock(c, **kw)
        self.block_2 = ResnetBlock(c, c, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Downsample(nn.Module):
    def __init__(self, c: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """``down.i`` / ``up.i``: ResnetBlocks in ``block``, then ``downsample``/``upsample`` when present."""

    def __init__(self, blocks: list[nn.Module], resample: nn.Module | None, name: str) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self._resample = name
        if resample is not None:
            setattr(self, name, resample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.block:
            x = block(x)
        resample = getattr(self, self._resample, None)
        return resample(x) if resample is not None else x


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig, **kw: Any) -> None:
        super().__init__()
        ch, mults = cfg.ch, (1, *cfg.ch_mult)
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1, **kw)
        self.down = nn.ModuleList()
        block_in = ch
        for i, mult in enumerate(cfg.ch_mult):
            blocks: list[nn.Module] = []
            block_in = ch * mults[i]
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(block_in, ch * mult, **kw))
                block_in = ch * mult
            last = i == len(cfg.ch_mult) - 1
            self.down.append(Level(blocks, None if last else Downsample(block_in, **kw), "downsample"))
        self.mid = Mid(block_in, **kw)
        self.norm_out = _norm(block_in, **kw)
        self.conv_out = nn.Conv2d(block_in, 2 * cfg.z_channels, 3, padding=1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig, **kw: Any) -> None:
        super().__init__()
        ch = cfg.ch
        block_in = ch * cfg.ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, padding=1, **kw)
        self.mid = Mid(block_in, **kw)
        levels: list[nn.Module] = []
        for i in reversed(range(len(cfg.ch_mult))):
            blocks: list[nn.Module] = []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, ch * cfg.ch_mult[i], **kw))
                block_in = ch * cfg.ch_mult[i]
            levels.insert(0, Level(blocks, Upsample(block_in, **kw) if i else None, "upsample"))
        self.up = nn.ModuleList(levels)
        self.norm_out = _norm(block_in, **kw)
        self.conv_out = nn.Conv2d(block_in, 3, 3, padding=1, **kw)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    """``encode(x [B,3,H,W] in -1..1) -> mean latent [B,4,H/8,W/8]``; ``decode(z) -> [B,3,H,W]`` (-1..1, unclamped)."""

    def __init__(self, cfg: VAEConfig = VAEConfig(), device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.config = cfg
        self.encoder = Encoder(cfg, **kw)
        self.decoder = Decoder(cfg, **kw)
        self.quant_conv = nn.Conv2d(2 * cfg.z_channels, 2 * cfg.z_channels, 1, **kw)
        self.post_quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, 1, **kw)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        moments = self.quant_conv(self.encoder(x))
        return moments[:, : self.config.z_channels]  # the posterior mean

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))


def vae_config_from_keys(keys: set[str], shape: Any, prefix: str = "") -> VAEConfig:
    """ch, ch_mult, num_res_blocks and z_channels from the encoder's keys (``shape(key)`` gives a key's shape)."""
    ch = shape(prefix + "encoder.conv_in.weight")[0]
    mults, i = [], 0
    while prefix + f"encoder.down.{i}.block.0.conv1.weight" in keys:
        mults.append(shape(prefix + f"encoder.down.{i}.block.0.conv1.weight")[0] // ch)
        i += 1
    res = 0
    while prefix + f"encoder.down.0.block.{res}.conv1.weight" in keys:
        res += 1
    z = shape(prefix + "decoder.conv_in.weight")[1]
    return VAEConfig(ch=ch, ch_mult=tuple(mults), num_res_blocks=res, z_channels=z)


__all__ = ["AutoencoderKL", "VAEConfig", "vae_config_from_keys"]
