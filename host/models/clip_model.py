"""CLIP text encoders through ``transformers.CLIPTextModel`` (MODELS_FACTS §3): CLIP-L (SD1, SDXL), OpenCLIP-H
(SD2) and OpenCLIP-bigG (SDXL), the OpenCLIP ones' original ``transformer.resblocks.*`` keys converted at load.
The forward pass is run layer by layer here so that a chosen hidden layer (clip skip) and textual-inversion
vectors can be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ClipSpec:
    kind: str
    width: int
    layers: int
    heads: int
    mlp: int
    act: str
    #: the pad token: the end token for SD1's L, 0 for SD2's H
    pad_id: int
    #: the default hidden layer (None = the last), as ComfyUI's layer_idx
    default_layer: int | None
    projected_pool: bool
    #: the chosen hidden layer gets the final LayerNorm (SD1, SD2); SDXL's encoders take it un-normalised
    layer_norm_hidden: bool = True


CLIP_SPECS = {
    "l": ClipSpec("l", 768, 12, 12, 3072, "quick_gelu", 49407, None, False),
    "h": ClipSpec("h", 1024, 24, 16, 4096, "gelu", 0, -2, True),
    "g": ClipSpec("g", 1280, 32, 20, 5120, "gelu", 0, -2, True, layer_norm_hidden=False),
}
#: SDXL's CLIP-L: the penultimate layer without the final LayerNorm (``SDXLClipModel``'s clip_l)
SDXL_L_SPEC = replace(CLIP_SPECS["l"], default_layer=-2, layer_norm_hidden=False)


def _nullcontext() -> Any:
    import contextlib

    return contextlib.nullcontext()


def clip_spec_from_keys(kind: str, sd: Mapping[str, torch.Tensor], prefix: str = "transformer.",
                        base: ClipSpec | None = None) -> ClipSpec:
    """The ``kind``'s spec (or ``base``) with width, depth and MLP size read from CLIPTextModel-layout keys
    (small test models)."""
    width = tuple(sd[prefix + "embeddings.token_embedding.weight"].shape)[1]
    layers = 0
    while f"{prefix}encoder.layers.{layers}.mlp.fc1.weight" in sd:
        layers += 1
    mlp = tuple(sd[f"{prefix}encoder.layers.0.mlp.fc1.weight"].shape)[0]
    return replace(base or CLIP_SPECS[kind], width=width, layers=layers, mlp=mlp, heads=max(width // 64, 1))


class ClipTextModel(nn.Module):
    """``transformer`` is transformers' CLIPTextModel (its keys = checkpoint keys under ``text_model.``);
    ``text_projection`` (no bias) exists for projected pooling."""

    def __init__(self, spec: ClipSpec, device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModel

        cfg = CLIPTextConfig(vocab_size=49408, hidden_size=spec.width, intermediate_size=spec.mlp,
                             num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                             max_position_embeddings=77, hidden_act=spec.act, layer_norm_eps=1e-5,
                             bos_token_id=49406, eos_token_id=49407, pad_token_id=spec.pad_id)
        cfg._attn_implementation = "eager"  # plain softmax attention, as ComfyUI's CLIP on the CPU
        self.spec = spec
        with torch.device(device) if device is not None else _nullcontext():
            self.transformer = CLIPTextModel(cfg).to(dtype) if dtype is not None else CLIPTextModel(cfg)
            if spec.projected_pool:
                self.text_projection = nn.Linear(spec.width, spec.width, bias=False, dtype=dtype)

    def forward(self, embeds: torch.Tensor, end_positions: torch.Tensor,
                layer: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """embeds [B,77,D] (token vectors, fp32) -> (hidden [B,77,D], pooled [B,D]).

        ``layer`` None is the last layer (with the final LN); a negative k is 0-based layer num_layers+k, with
        the final LN when the spec's ``layer_norm_hidden``."""
        m = self.transformer
        h = m.embeddings(inputs_embeds=embeds)
        n = h.shape[1]
        mask = torch.full((n, n), -torch.finfo(h.dtype).max, dtype=h.dtype, device=h.device).triu_(1)
        stop = None if layer is None or abs(layer) > self.spec.layers else self.spec.layers + layer
        picked = None
        for i, block in enumerate(m.encoder.layers):
            h = block(h, mask)
            if i == stop:
                picked = h
        last = m.final_layer_norm(h)
        if picked is None:
            hidden = last
        else:
            hidden = m.final_layer_norm(picked) if self.spec.layer_norm_hidden else picked
        pooled = last[torch.arange(last.shape[0], device=last.device), end_positions]
        if self.spec.projected_pool:
            pooled = self.text_projection(pooled)
        return hidden, pooled

    def token_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        return self.transformer.embeddings.token_embedding(ids)


def convert_open_clip(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP text-tower keys -> CLIPTextModel keys (+ ``text_projection.weight``, transposed)."""
    out: dict[str, torch.Tensor] = {}
    names = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
             "attn.out_proj": "self_attn.out_proj"}
    for key, t in sd.items():
        if key == "token_embedding.weight":
            out["transformer.embeddings.token_embedding.weight"] = t
        elif key == "positional_embedding":
            out["transformer.embeddings.position_embedding.weight"] = t
        elif key.startswith("ln_final."):
            out["transformer.final_layer_norm." + key.split(".")[-1]] = t
        elif key == "text_projection":
            out["text_projection.weight"] = t.transpose(0, 1)
        elif key.startswith("transformer.resblocks."):
            i, rest = key[len("transformer.resblocks."):].split(".", 1)
            p = f"transformer.encoder.layers.{i}."
            if rest.startswith("attn.in_proj_"):
                suffix = "weight" if rest.endswith("weight") else "bias"
                for name, part in zip(("q_proj", "k_proj", "v_proj"), t.chunk(3, dim=0), strict=True):
                    out[f"{p}self_attn.{name}.{suffix}"] = part
                continue
            head, suffix = rest.rsplit(".", 1)
            if head in names:
                out[f"{p}{names[head]}.{suffix}"] = t
    return out


__all__ = ["CLIP_SPECS", "SDXL_L_SPEC", "ClipSpec", "ClipTextModel", "convert_open_clip"]
