"""Style models (StyleModelLoader, StyleModelApply): TencentARC's T2I style adapter (``style_embedding`` key) and
Flux Redux's image encoder (``redux_down.weight``), each mapping a CLIP vision output to extra text tokens.

Style adapter: ``num_token`` learnt tokens are appended to the CLIP vision tower's ``last_hidden_state``, pre-LN,
``n`` CLIP residual attention blocks (quick-GELU MLP, torch's MultiheadAttention names), post-LN of the learnt
tokens, times ``proj``: [B, num_token, context_dim]. ComfyUI builds it with width 1024, context 768, 8 heads,
3 blocks and 8 tokens; the width, context, depth and token count are read from the keys here (8 heads).
Redux: ``redux_down(silu(redux_up(last_hidden_state)))``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from host.models.checkpoint import open_state_dict
from host.models.detect import describe_keys
from host.models.errors import UnknownArchitecture

STYLE_HEADS = 8


class _QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """x += attn(ln_1 x); x += mlp(ln_2 x), sequence-first ([L, N, D])."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", _QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class StyleAdapter(nn.Module):
    """``adapter(hidden [B, T, width]) -> [B, num_token, context_dim]``."""

    def __init__(self, width: int = 1024, context_dim: int = 768, heads: int = STYLE_HEADS, layers: int = 3,
                 num_token: int = 8) -> None:
        super().__init__()
        self.transformer_layes = nn.Sequential(*(ResidualAttentionBlock(width, heads) for _ in range(layers)))
        self.num_token = num_token
        self.style_embedding = nn.Parameter(torch.zeros(1, num_token, width))
        self.ln_post = nn.LayerNorm(width)
        self.ln_pre = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, context_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        style = self.style_embedding.expand(x.shape[0], -1, -1).to(x.dtype)
        x = self.ln_pre(torch.cat([x, style], dim=1))
        x = self.transformer_layes(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, -self.num_token:, :]) @ self.proj


class ReduxImageEncoder(nn.Module):
    def __init__(self, redux_dim: int = 1152, txt_in_features: int = 4096) -> None:
        super().__init__()
        self.redux_up = nn.Linear(redux_dim, txt_in_features * 3)
        self.redux_down = nn.Linear(txt_in_features * 3, txt_in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.redux_down(F.silu(self.redux_up(x)))


@dataclass(eq=False)
class StyleModel:
    """The STYLE_MODEL value."""

    model: nn.Module
    kind: str
    path: Path | None = None

    @torch.no_grad()
    def get_cond(self, clip_vision_output: Any) -> torch.Tensor:
        hidden = clip_vision_output["last_hidden_state"]
        param = next(self.model.parameters())
        return self.model(hidden.to(param.device, param.dtype)).float().cpu()


def _style_adapter(sd: dict[str, torch.Tensor]) -> StyleAdapter:
    _, num_token, width = sd["style_embedding"].shape
    layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("transformer_layes."))
    return StyleAdapter(width, sd["proj"].shape[1], STYLE_HEADS, layers, num_token)


def load_style_model(path: str | Path) -> StyleModel:
    """The style model in ``path`` (CPU, fp32); UnknownArchitecture for any other file."""
    path = Path(path)
    raw = open_state_dict(path)
    sd = {k: raw[k] for k in raw}
    if "style_embedding" in sd:
        model: nn.Module = _style_adapter(sd)
        kind = "t2i_style"
    elif "redux_down.weight" in sd:
        model = ReduxImageEncoder(sd["redux_up.weight"].shape[1], sd["redux_down.weight"].shape[0])
        kind = "redux"
    else:
        raise UnknownArchitecture(path, f"invalid style model (neither a T2I style adapter nor Redux): "
                                        f"{describe_keys(list(sd))}")
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as e:
        raise UnknownArchitecture(path, f"style model weights do not fit: {str(e)[:300]}") from None
    return StyleModel(model.eval().requires_grad_(False), kind, path)


def apply_style(conditioning: list[Any], cond: torch.Tensor, strength: float, strength_type: str) -> list[Any]:
    """StyleModelApply: the style tokens [1, n, D] (scaled when "multiply") appended to every entry's tokens; an
    attention bias log(strength) on them (with "attn_bias", or when an entry already has an attention mask) in
    the entry's ``attention_mask`` [B, txt+n+ref, txt+n+ref], the old mask's quadrants kept around them."""
    if strength_type == "multiply":
        cond = cond * strength
    n = cond.shape[1]
    out = []
    for txt, options in conditioning:
        opts = options.copy()
        if "attention_mask" in opts or (strength_type == "attn_bias" and strength != 1.0):
            opts["attention_mask"] = _grown_mask(opts, txt, n, strength if strength_type == "attn_bias" else 1.0)
            opts["attention_mask_img_shape"] = opts.get("attention_mask_img_shape", (1, 1))
        out.append([torch.cat((txt, cond.to(txt.device, txt.dtype)), dim=1), opts])
    return out


def _grown_mask(opts: dict[str, Any], txt: torch.Tensor, n: int, strength: float) -> torch.Tensor:
    bias = torch.log(torch.tensor([strength]))
    ref_h, ref_w = opts.get("attention_mask_img_shape", (1, 1))
    n_ref, n_txt = ref_h * ref_w, txt.shape[1]
    mask = opts.get("attention_mask")
    if mask is None:
        mask = torch.zeros((txt.shape[0], n_txt + n_ref, n_txt + n_ref), dtype=torch.float16)
    if mask.dtype == torch.bool:
        mask = torch.log(mask.to(dtype=torch.float16))
    mask = mask.cpu()
    size = n_txt + n + n_ref
    new = torch.zeros((txt.shape[0], size, size), dtype=torch.float16)
    new[:, :n_txt, :n_txt] = mask[:, :n_txt, :n_txt]
    new[:, :n_txt, n_txt + n:] = mask[:, :n_txt, n_txt:]
    new[:, n_txt + n:, :n_txt] = mask[:, n_txt:, :n_txt]
    new[:, n_txt + n:, n_txt + n:] = mask[:, n_txt:, n_txt:]
    new[:, :n_txt, n_txt:n_txt + n] = bias
    new[:, n_txt + n:, n_txt:n_txt + n] = bias
    return new.to(txt.device)


__all__ = ["ReduxImageEncoder", "StyleAdapter", "StyleModel", "apply_style", "load_style_model"]
