"""The Stable Diffusion UNet (SD1.x, SD2.x; SDXL's layout too), attribute names = checkpoint keys
(``model.diffusion_model.*`` without the prefix). Numerics as MODELS_FACTS.md §9: fp32 sinusoidal timestep
embedding (cos first), GroupNorm(32) eps 1e-5 in ResBlocks and 1e-6 before transformers, GEGLU feed-forward,
attention through ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from host.models import ops
from host.models.unet_config import UNetConfig


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[B] -> [B, dim] fp32: [cos(t f), sin(t f)] with f_k = exp(-ln(max_period) k / (dim/2))."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, **kw: Any) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(ops.GroupNorm(32, cin, eps=1e-5, **kw), nn.SiLU(),
                                       ops.Conv2d(cin, cout, 3, padding=1, **kw))
        self.emb_layers = nn.Sequential(nn.SiLU(), ops.Linear(emb_dim, cout, **kw))
        self.out_layers = nn.Sequential(ops.GroupNorm(32, cout, eps=1e-5, **kw), nn.SiLU(), nn.Dropout(0.0),
                                        ops.Conv2d(cout, cout, 3, padding=1, **kw))
        self.skip_connection = nn.Identity() if cin == cout else ops.Conv2d(cin, cout, 1, **kw)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class CrossAttention(nn.Module):
    def __init__(self, dim: int, context_dim: int, heads: int, **kw: Any) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = ops.Linear(dim, dim, bias=False, **kw)
        self.to_k = ops.Linear(context_dim, dim, bias=False, **kw)
        self.to_v = ops.Linear(context_dim, dim, bias=False, **kw)
        self.to_out = nn.Sequential(ops.Linear(dim, dim, **kw), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                value: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if context is None else context
        b, n, c = x.shape
        q = self.to_q(x).view(b, n, self.heads, -1).transpose(1, 2)  # [B, heads, N, d]
        k = self.to_k(ctx).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        v = self.to_v(ctx if value is None else value).view(b, ctx.shape[1], self.heads, -1).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, c))


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int, **kw: Any) -> None:
        super().__init__()
        self.proj = ops.Linear(dim, inner * 2, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, **kw: Any) -> None:
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * 4, **kw), nn.Dropout(0.0), ops.Linear(dim * 4, dim, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, context_dim: int, heads: int, **kw: Any) -> None:
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads, **kw)
        self.attn2 = CrossAttention(dim, context_dim, heads, **kw)
        self.ff = FeedForward(dim, **kw)
        self.norm1 = ops.LayerNorm(dim, eps=1e-5, **kw)
        self.norm2 = ops.LayerNorm(dim, eps=1e-5, **kw)
        self.norm3 = ops.LayerNorm(dim, eps=1e-5, **kw)
        #: set around a UNet call (GLIGEN's gated self-attention): x -> x, after the self-attention
        self.middle_patch: Any = None
        #: set around a UNet call with a MODEL's attention patches: runs the block instead
        #: (host.models.attention_patches)
        self.patch_hook: Any = None

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        if self.patch_hook is not None:
            return self.patch_hook(self, x, context)
        x = x + self.attn1(self.norm1(x))
        if self.middle_patch is not None:
            x = self.middle_patch(x)
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    def __init__(self, ch: int, depth: int, cfg: UNetConfig, **kw: Any) -> None:
        super().__init__()
        self.use_linear = cfg.use_linear
        self.norm = ops.GroupNorm(32, ch, eps=1e-6, **kw)
        proj = (lambda: ops.Linear(ch, ch, **kw)) if cfg.use_linear else (lambda: ops.Conv2d(ch, ch, 1, **kw))
        self.proj_in = proj()
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(ch, cfg.context_dim, cfg.heads(ch), **kw) for _ in range(depth))
        self.proj_out = proj()

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x_in = x
        x = self.norm(x)
        if not self.use_linear:
            x = self.proj_in(x)
        x = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        if self.use_linear:
            x = self.proj_in(x)
        for block in self.transformer_blocks:
            x = block(x, context)
        if self.use_linear:
            x = self.proj_out(x)
        x = x.transpose(1, 2).reshape(b, c, h, w)
        if not self.use_linear:
            x = self.proj_out(x)
        return x + x_in


class Downsample(nn.Module):
    def __init__(self, ch: int, **kw: Any) -> None:
        super().__init__()
        self.op = ops.Conv2d(ch, ch, 3, stride=2, padding=1, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch: int, **kw: Any) -> None:
        super().__init__()
        self.conv = ops.Conv2d(ch, ch, 3, padding=1, **kw)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class TimestepEmbedSequential(nn.ModuleList):
    """A block of ResBlock / SpatialTransformer / Down-/Upsample layers, each given what it takes."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor, context: torch.Tensor,
                size: tuple[int, int] | None = None) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            elif isinstance(layer, Upsample):
                x = layer(x, size)
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    """``unet(x [B,Cin,h,w], timesteps [B], context=[B,T,ctx], y=[B,adm]) -> [B,Cout,h,w]``."""

    def __init__(self, cfg: UNetConfig, device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.config = cfg
        mc, ted = cfg.model_channels, cfg.time_embed_dim
        self.time_embed = nn.Sequential(ops.Linear(mc, ted, **kw), nn.SiLU(), ops.Linear(ted, ted, **kw))
        if cfg.adm_in_channels is not None:
            self.label_emb = nn.Sequential(nn.Sequential(
                ops.Linear(cfg.adm_in_channels, ted, **kw), nn.SiLU(), ops.Linear(ted, ted, **kw)))
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential([ops.Conv2d(cfg.in_channels, mc, 3, padding=1,
                                                                             **kw)])])
        chans, ch, depths = [mc], mc, iter(cfg.input_depths)
        levels = len(cfg.channel_mult)
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks[level]):
                layers: list[nn.Module] = [ResBlock(ch, mult * mc, ted, **kw)]
                ch = mult * mc
                depth = next(depths)
                if depth:
                    layers.append(SpatialTransformer(ch, depth, cfg, **kw))
                self.input_blocks.append(TimestepEmbedSequential(layers))
                chans.append(ch)
            if level != levels - 1:
                self.input_blocks.append(TimestepEmbedSequential([Downsample(ch, **kw)]))
                chans.append(ch)
        middle: list[nn.Module] = [ResBlock(ch, ch, ted, **kw)]
        if cfg.middle_depth:
            middle.append(SpatialTransformer(ch, cfg.middle_depth, cfg, **kw))
        middle.append(ResBlock(ch, ch, ted, **kw))
        self.middle_block = TimestepEmbedSequential(middle)
        self.output_blocks = nn.ModuleList()
        out_depths = iter(cfg.output_depths)
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            for i in range(cfg.num_res_blocks[level] + 1):
                layers = [ResBlock(ch + chans.pop(), mc * mult, ted, **kw)]
                ch = mc * mult
                depth = next(out_depths)
                if depth:
                    layers.append(SpatialTransformer(ch, depth, cfg, **kw))
                if level and i == cfg.num_res_blocks[level]:
                    layers.append(Upsample(ch, **kw))
                self.output_blocks.append(TimestepEmbedSequential(layers))
        self.out = nn.Sequential(ops.GroupNorm(32, ch, eps=1e-5, **kw), nn.SiLU(),
                                 ops.Conv2d(mc, cfg.out_channels, 3, padding=1, **kw))
        #: set around a UNet call with a MODEL's input/output block patches (host.models.attention_patches)
        self.block_hook: Any = None

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                y: torch.Tensor | None = None, control: dict[str, list[Any]] | None = None,
                **_: Any) -> torch.Tensor:
        """``control``: residuals (ControlNet, T2I-adapter) by place, each list popped from its end: "input"
        after each input block, "middle" after the middle block, "output" onto each skip as it is popped."""
        emb = self.time_embed(timestep_embedding(timesteps, self.config.model_channels).to(x.dtype))
        if y is not None and self.config.adm_in_channels is not None:
            emb = emb + self.label_emb(y.to(x.dtype))
        assert context is not None, "the SD UNet needs a context"
        h, hs, hook = x, [], self.block_hook
        for number, block in enumerate(self.input_blocks):
            h = _add_control(block(h, emb, context), control, "input")
            hs.append(h if hook is None else hook.input(h, number))
            h = hs[-1]
        h = _add_control(self.middle_block(h, emb, context), control, "middle")
        for number, block in enumerate(self.output_blocks):
            skip = _add_control(hs.pop(), control, "output")
            if hook is not None:
                h, skip = hook.output(h, skip, number)
            h = torch.cat([h, skip], dim=1)
            h = block(h, emb, context, tuple(hs[-1].shape[2:]) if hs else None)
        return self.out(h.to(x.dtype))


def _add_control(h: torch.Tensor, control: dict[str, list[Any]] | None, place: str) -> torch.Tensor:
    residuals = control.get(place) if control is not None else None
    if not residuals:
        return h
    r = residuals.pop()
    return h if r is None else h + r.to(h.dtype)


__all__ = ["UNetModel", "timestep_embedding"]
