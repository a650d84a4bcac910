"""The ControlNet (Zhang et al. 2023, "Adding Conditional Control to Text-to-Image Diffusion Models") in its
original (``cldm``) key layout: a trainable copy of the SD UNet's encoder (``time_embed``, ``input_blocks``,
``middle_block``, ``label_emb`` for SDXL), the hint encoder ``input_hint_block`` (eight 3x3 convs, SiLU between,
8x down to model_channels), one 1x1 ``zero_convs.i`` per input block and ``middle_block_out``.

Forward: emb as the UNet's; the encoded hint is added after ``input_blocks.0``; each input block's output goes
through its zero conv (the residual for the UNet skip it matches) and the middle block's through
``middle_block_out``. Keys are read bare or under ``control_model.`` (the layout of the first ControlNet
releases, which also carry the UNet they were trained with).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from host.models.unet import (
    Downsample,
    ResBlock,
    SpatialTransformer,
    TimestepEmbedSequential,
    timestep_embedding,
)
from host.models.unet_config import UNetConfig, unet_config_from_keys

#: the hint encoder: (in, out, stride) of each conv; SiLU after all but the last (a zero conv to model_channels)
HINT_CONVS = ((None, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 96, 2), (96, 96, 1), (96, 256, 2),
              (256, None, 1))
CONTROL_PREFIXES = ("control_model.", "")
MARKER = "zero_convs.0.0.weight"


def control_prefix(keys: set[str] | list[str]) -> str | None:
    """Where a ControlNet's keys start (``control_model.`` or bare), None when the keys hold none."""
    present = set(keys)
    for prefix in CONTROL_PREFIXES:
        if prefix + MARKER in present and prefix + "input_hint_block.0.weight" in present:
            return prefix
    return None


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    getter = getattr(sd, "shape", None)
    return tuple(getter(key)) if callable(getter) else tuple(sd[key].shape)


def controlnet_config_from_keys(sd: Mapping[str, torch.Tensor], prefix: str) -> tuple[UNetConfig, int] | None:
    """(the encoder's UNet config, hint channels) of the ControlNet under ``prefix``."""
    cfg = unet_config_from_keys(sd, prefix, encoder_only=True)
    if cfg is None or prefix + "input_hint_block.0.weight" not in sd:
        return None
    return cfg, _shape(sd, prefix + "input_hint_block.0.weight")[1]


class ControlNetModel(nn.Module):
    """``cnet(x [B,C,h,w], hint [B,Ch,8h,8w], t [B], context, y) -> {"output": [r_0..r_n], "middle": [r_mid]}``;
    r_i is the residual for the UNet skip of input block i (UNetModel pops each list from its end)."""

    def __init__(self, cfg: UNetConfig, hint_channels: int = 3, device: Any = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.config, self.hint_channels = cfg, hint_channels
        mc, ted = cfg.model_channels, cfg.time_embed_dim
        self.time_embed = nn.Sequential(nn.Linear(mc, ted, **kw), nn.SiLU(), nn.Linear(ted, ted, **kw))
        if cfg.adm_in_channels is not None:
            self.label_emb = nn.Sequential(nn.Sequential(
                nn.Linear(cfg.adm_in_channels, ted, **kw), nn.SiLU(), nn.Linear(ted, ted, **kw)))
        hint: list[nn.Module] = []
        for cin, cout, stride in HINT_CONVS:
            hint.append(nn.Conv2d(cin or hint_channels, cout or mc, 3, stride=stride, padding=1, **kw))
            if cout is not None:
                hint.append(nn.SiLU())
        self.input_hint_block = nn.Sequential(*hint)
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential([nn.Conv2d(cfg.in_channels, mc, 3, padding=1,
                                                                             **kw)])])
        chans, ch, depths = [mc], mc, iter(cfg.input_depths)
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks[level]):
                layers: list[nn.Module] = [ResBlock(ch, mult * mc, ted, **kw)]
                ch = mult * mc
                depth = next(depths)
                if depth:
                    layers.append(SpatialTransformer(ch, depth, cfg, **kw))
                self.input_blocks.append(TimestepEmbedSequential(layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential([Downsample(ch, **kw)]))
                chans.append(ch)
        self.zero_convs = nn.ModuleList(nn.Sequential(nn.Conv2d(c, c, 1, **kw)) for c in chans)
        middle: list[nn.Module] = [ResBlock(ch, ch, ted, **kw)]
        if cfg.middle_depth:
            middle.append(SpatialTransformer(ch, cfg.middle_depth, cfg, **kw))
        middle.append(ResBlock(ch, ch, ted, **kw))
        self.middle_block = TimestepEmbedSequential(middle)
        self.middle_block_out = nn.Sequential(nn.Conv2d(ch, ch, 1, **kw))

    def forward(self, x: torch.Tensor, hint: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor,
                y: torch.Tensor | None = None) -> dict[str, list[torch.Tensor]]:
        emb = self.time_embed(timestep_embedding(timesteps, self.config.model_channels).to(x.dtype))
        if y is not None and self.config.adm_in_channels is not None:
            emb = emb + self.label_emb(y.to(x.dtype))
        guided: torch.Tensor | None = self.input_hint_block(hint.to(x.dtype))  # [B|1, mc, h, w]
        outs, h = [], x
        for block, zero_conv in zip(self.input_blocks, self.zero_convs, strict=True):
            h = block(h, emb, context)
            if guided is not None:
                h, guided = h + guided, None
            outs.append(zero_conv(h))
        h = self.middle_block(h, emb, context)
        return {"output": outs, "middle": [self.middle_block_out(h)]}


__all__ = ["CONTROL_PREFIXES", "ControlNetModel", "control_prefix", "controlnet_config_from_keys"]
