"""GLIGEN (Li et al. 2023, "GLIGEN: Open-Set Grounded Text-to-Image Generation"): text boxes as grounding tokens
through gated self-attention layers inserted after the self-attention of each UNet transformer block.

File layout: ``position_net.*`` (the grounding tokenizer: box Fourier features + the phrase's pooled CLIP
embedding -> an MLP to the token width; learnt null features where there is no box) and, per transformer block,
``...input_blocks.i.1.transformer_blocks.0.fuser.*`` (``linear`` token width -> block width, ``attn``, ``ff``,
``norm1/2``, ``alpha_attn/alpha_dense``). Fusers are taken in the UNet's block order (input, middle, output),
which is the order of its transformer blocks.

Per model call (ComfyUI's ``Gligen.set_position``): up to 30 boxes, in latent pixels (h, w, y, x) normalised to
(x1, y1, x2, y2) by the latent size; the tokens of the box list are computed once for the batch, and each block
does x += tanh(alpha_attn)·attn(norm1([x, linear(tokens)]))[:, :N] and x += tanh(alpha_dense)·ff(norm2(x)).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from host.models.checkpoint import open_state_dict
from host.models.detect import describe_keys
from host.models.errors import UnknownArchitecture, WeightMismatch
from host.models.unet import BasicTransformerBlock, CrossAttention, FeedForward

MAX_OBJECTS = 30
FOURIER_FREQS = 8


class GatedSelfAttentionDense(nn.Module):
    def __init__(self, query_dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.linear = nn.Linear(context_dim, query_dim)
        self.attn = CrossAttention(query_dim, query_dim, heads)
        self.ff = FeedForward(query_dim)
        self.norm1 = nn.LayerNorm(query_dim)
        self.norm2 = nn.LayerNorm(query_dim)
        self.alpha_attn = nn.Parameter(torch.tensor(0.0))
        self.alpha_dense = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, objs: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        objs = self.linear(objs)
        x = x + torch.tanh(self.alpha_attn) * self.attn(self.norm1(torch.cat([x, objs], dim=1)))[:, :n]
        return x + torch.tanh(self.alpha_dense) * self.ff(self.norm2(x))


def fourier(x: torch.Tensor, freqs: int = FOURIER_FREQS, temperature: float = 100.0) -> torch.Tensor:
    """[..., 4] -> [..., 4·2·freqs]: sin and cos of each coordinate per frequency band, band-major."""
    bands = temperature ** (torch.arange(freqs, dtype=torch.float32) / freqs)
    return torch.cat([f(b * x) for b in bands for f in (torch.sin, torch.cos)], dim=-1)


class PositionNet(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        position_dim = FOURIER_FREQS * 2 * 4
        self.linears = nn.Sequential(nn.Linear(in_dim + position_dim, 512), nn.SiLU(), nn.Linear(512, 512),
                                     nn.SiLU(), nn.Linear(512, out_dim))
        self.null_positive_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_position_feature = nn.Parameter(torch.zeros(position_dim))

    def forward(self, boxes: torch.Tensor, masks: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        m = masks.unsqueeze(-1)
        embeddings = embeddings * m + (1 - m) * self.null_positive_feature.view(1, 1, -1)
        xyxy = fourier(boxes) * m + (1 - m) * self.null_position_feature.view(1, 1, -1)
        return self.linears(torch.cat([embeddings, xyxy], dim=-1))


@dataclass(eq=False)
class Gligen:
    """The GLIGEN value: the fusers (one per UNet transformer block) and the grounding tokenizer."""

    fusers: nn.ModuleList
    position_net: PositionNet
    key_dim: int
    path: Path | None = None

    def tokens(self, latent_shape: tuple[int, ...], boxes: list[tuple[Any, ...]], device: Any) -> torch.Tensor:
        """Grounding tokens [B, 30, D] for (pooled [1,key_dim], h, w, y, x) boxes at latent size."""
        batch, _, h, w = latent_shape
        masks = torch.zeros(MAX_OBJECTS)
        xyxy, embeds = torch.zeros(MAX_OBJECTS, 4), torch.zeros(MAX_OBJECTS, self.key_dim)
        for i, (pooled, bh, bw, y, x) in enumerate(boxes[:MAX_OBJECTS]):
            masks[i] = 1.0
            xyxy[i] = torch.tensor((x / w, y / h, (x + bw) / w, (y + bh) / h))
            embeds[i] = pooled.reshape(-1).float().cpu()
        param = self.position_net.null_positive_feature
        with torch.no_grad():
            objs = self.position_net(*(t.unsqueeze(0).repeat(batch, *([1] * t.ndim)).to(param.device, param.dtype)
                                       for t in (xyxy, masks, embeds)))
        return objs.to(device)

    @contextlib.contextmanager
    def patched(self, unet: nn.Module, objs: torch.Tensor) -> Iterator[None]:
        """``unet``'s transformer blocks run their fuser with ``objs`` while the context is open."""
        blocks = [m for m in unet.modules() if isinstance(m, BasicTransformerBlock)]
        if len(blocks) != len(self.fusers):
            raise WeightMismatch(self.path or "<gligen>", f"the GLIGEN model has {len(self.fusers)} fusers, the "
                                                          f"UNet {len(blocks)} transformer blocks")
        for block, fuser in zip(blocks, self.fusers, strict=True):
            if next(fuser.parameters()).device != objs.device:
                fuser.to(objs.device)
            block.middle_patch = _Patch(fuser, objs)
        try:
            yield
        finally:
            for block in blocks:
                block.middle_patch = None


class _Patch:
    def __init__(self, fuser: GatedSelfAttentionDense, objs: torch.Tensor) -> None:
        self.fuser, self.objs = fuser, objs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuser(x, self.objs.to(x.dtype))


def _fusers(sd: dict[str, torch.Tensor]) -> tuple[list[GatedSelfAttentionDense], int]:
    fusers, key_dim = [], 768
    for part in ("input_blocks", "middle_block", "output_blocks"):
        for b in range(20):
            tag = f"{part}.{b}." if part != "middle_block" else "middle_block."
            weights = {k.split(".fuser.")[-1]: v for k, v in sd.items() if tag in k and ".fuser." in k}
            if weights:
                query_dim, key_dim = weights["linear.weight"].shape
                heads = 8 if key_dim == 768 else query_dim // 64
                fuser = GatedSelfAttentionDense(query_dim, key_dim, heads)
                fuser.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
                fusers.append(fuser.eval().requires_grad_(False))
            if part == "middle_block":
                break
    return fusers, key_dim


def load_gligen(path: str | Path) -> Gligen:
    path = Path(path)
    raw = open_state_dict(path)
    sd = {k: raw[k] for k in raw}
    if "position_net.null_positive_feature" not in sd:
        raise UnknownArchitecture(path, f"no GLIGEN position net found: {describe_keys(list(sd))}")
    try:
        fusers, key_dim = _fusers(sd)
        net = PositionNet(sd["position_net.null_positive_feature"].shape[0],
                          sd["position_net.linears.4.weight"].shape[0])
        net.load_state_dict({k[len("position_net."):]: v.float() for k, v in sd.items()
                             if k.startswith("position_net.")}, strict=True)
    except (RuntimeError, KeyError) as e:
        raise WeightMismatch(path, f"GLIGEN weights do not fit: {str(e)[:300]}") from None
    return Gligen(nn.ModuleList(fusers), net.eval().requires_grad_(False), key_dim, path)


@contextlib.contextmanager
def gligen_call(unet: nn.Module, gligen: Any, x: torch.Tensor) -> Iterator[None]:
    """The UNet call of one batch with its GLIGEN grounding (``("position", Gligen, boxes)``) in place."""
    if gligen is None:
        yield
        return
    kind, model, boxes = gligen
    boxes = boxes if kind == "position" else []
    with model.patched(unet, model.tokens(tuple(x.shape), boxes, x.device)):
        yield


__all__ = ["GatedSelfAttentionDense", "Gligen", "PositionNet", "fourier", "gligen_call", "load_gligen"]
