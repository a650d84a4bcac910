"""The SD UNet's configuration read from its state-dict keys (as ComfyUI's ``detect_unet_config`` reads it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class UNetConfig:
    """Everything that shapes an SD1/SD2/SDXL UNet. Depths are transformer depths, 0 = no SpatialTransformer."""

    in_channels: int = 4
    out_channels: int = 4
    model_channels: int = 320
    #: channel multiplier per level
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    #: ResBlocks per level on the way down (the way up has one more)
    num_res_blocks: tuple[int, ...] = (2, 2, 2, 2)
    #: transformer depth after each down ResBlock, in order (len = sum(num_res_blocks))
    input_depths: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 0, 0)
    middle_depth: int = 1
    #: transformer depth after each up ResBlock, in order (len = sum(num_res_blocks) + levels)
    output_depths: tuple[int, ...] = (0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    context_dim: int = 768
    #: proj_in/proj_out as Linear (SD2, SDXL) rather than 1x1 conv (SD1)
    use_linear: bool = False
    #: a fixed head count (SD1: 8), else heads = channels // head_dim
    num_heads: int = 8
    head_dim: int = -1
    #: SDXL's class-embedding input (the "y" vector), None when absent
    adm_in_channels: int | None = None

    @property
    def time_embed_dim(self) -> int:
        return self.model_channels * 4

    def heads(self, channels: int) -> int:
        return self.num_heads if self.num_heads > 0 else channels // self.head_dim


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    getter = getattr(sd, "shape", None)
    return tuple(getter(key)) if callable(getter) else tuple(sd[key].shape)


def _depth(keys: set[str], block: str) -> int:
    d = 0
    while f"{block}.transformer_blocks.{d}.norm1.weight" in keys:
        d += 1
    return d


def _st_index(keys: set[str], block: str) -> str | None:
    """The sub-index of a block's SpatialTransformer ("1"), None when it has none."""
    for j in (1, 2):
        if f"{block}.{j}.transformer_blocks.0.norm1.weight" in keys:
            return f"{block}.{j}"
    return None


def unet_config_from_keys(sd: Mapping[str, torch.Tensor], prefix: str = "model.diffusion_model.",
                          encoder_only: bool = False) -> UNetConfig | None:
    """The UNet's config, None when the keys under ``prefix`` are no SD-style UNet. ``encoder_only``: the
    input and middle blocks suffice (a ControlNet's copy of the encoder; out_channels = in_channels)."""
    keys = {k[len(prefix):] for k in sd if k.startswith(prefix)}
    if "input_blocks.0.0.weight" not in keys or ("out.2.weight" not in keys and not encoder_only):
        return None
    mc, cin = _shape(sd, prefix + "input_blocks.0.0.weight")[:2]
    cout = _shape(sd, prefix + "out.2.weight")[0] if "out.2.weight" in keys else cin
    mults: list[int] = []
    res: list[int] = []
    depths: list[int] = []
    count, i = 0, 1
    while any(k.startswith(f"input_blocks.{i}.") for k in keys):
        if f"input_blocks.{i}.0.op.weight" in keys:
            res.append(count)
            count = 0
        else:
            ch = _shape(sd, prefix + f"input_blocks.{i}.0.out_layers.3.weight")[0]
            if count == 0:
                mults.append(ch // mc)
            count += 1
            st = _st_index(keys, f"input_blocks.{i}")
            depths.append(_depth(keys, st) if st else 0)
        i += 1
    res.append(count)
    out_depths: list[int] = []
    i = 0
    while any(k.startswith(f"output_blocks.{i}.") for k in keys):
        st = _st_index(keys, f"output_blocks.{i}")
        out_depths.append(_depth(keys, st) if st else 0)
        i += 1
    context = [k for k in sorted(keys, key=_natural) if re.search(r"attn2\.to_k\.weight$", k)]
    context_dim = _shape(sd, prefix + context[0])[1] if context else 0
    proj = [k for k in sorted(keys, key=_natural) if k.endswith("proj_in.weight")]
    use_linear = bool(proj) and len(_shape(sd, prefix + proj[0])) == 2
    adm = _shape(sd, prefix + "label_emb.0.0.weight")[1] if "label_emb.0.0.weight" in keys else None
    sd1_heads = context_dim == 768 and not use_linear
    return UNetConfig(in_channels=cin, out_channels=cout, model_channels=mc, channel_mult=tuple(mults),
                      num_res_blocks=tuple(res), input_depths=tuple(depths),
                      middle_depth=_depth(keys, "middle_block.1"), output_depths=tuple(out_depths),
                      context_dim=context_dim, use_linear=use_linear, num_heads=8 if sd1_heads else -1,
                      head_dim=-1 if sd1_heads else 64, adm_in_channels=adm)


def _natural(key: str) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


SD15 = UNetConfig()
SD21 = UNetConfig(context_dim=1024, use_linear=True, num_heads=-1, head_dim=64)

__all__ = ["SD15", "SD21", "UNetConfig", "unet_config_from_keys"]
