"""SDXL's ADM vector ``y`` (the UNet's ``label_emb`` input), as ComfyUI computes it per conditioning entry
(``model_base.py:SDXL.encode_adm`` / ``SDXLRefiner.encode_adm``, ``samplers.py:encode_model_conds``; MODELS_FACTS §9).

E(v) is the UNet's sinusoidal timestep embedding of the number v at dim 256 (cos first, fp32).

- base (2816 = 1280 + 6·256): [pooled_G, E(height), E(width), E(crop_h), E(crop_w), E(target_height),
  E(target_width)].
- refiner (2560 = 1280 + 5·256): [pooled_G, E(height), E(width), E(crop_h), E(crop_w), E(aesthetic_score)].

Each value comes from the entry's options (CLIPTextEncodeSDXL / CLIPTextEncodeSDXLRefiner put them there);
what is missing takes ComfyUI's default: width/height = 8 × the latent's size (so plain CLIPTextEncode gets the
image's own size), crops 0, targets = width/height, aesthetic score 6 for the positive and 2.5 for the negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from host.models.sampling.errors import SamplingError
from host.models.unet import timestep_embedding

ADM_EMBED_DIM = 256
#: the size of the pooled text vector each family's y starts with
POOLED_DIM = 1280


class ConditioningMismatch(SamplingError, ValueError):
    """A conditioning made by another family's text encoder than the model's (its width or pooled output)."""


def embed_numbers(values: list[float]) -> Tensor:
    """[1, 256·n]: E(v) of each value, concatenated (``Timestep(256)`` over ``torch.Tensor([v])``)."""
    rows = [timestep_embedding(torch.tensor([float(v)], dtype=torch.float32), ADM_EMBED_DIM) for v in values]
    return torch.flatten(torch.cat(rows)).unsqueeze(0)


def _pooled(opts: Mapping[str, Any], family: str) -> Tensor:
    pooled = opts.get("pooled_output")
    if pooled is None:
        raise ConditioningMismatch(f"the {family} model needs the text encoder's pooled output (pooled_output) in "
                                   f"every conditioning entry; this one has none (was it made for another model?)")
    if pooled.ndim == 1:
        pooled = pooled[None]
    if pooled.shape[-1] != POOLED_DIM:
        raise ConditioningMismatch(
            f"the {family} model takes a {POOLED_DIM}-wide pooled output (OpenCLIP-bigG); this conditioning's is "
            f"{pooled.shape[-1]}-wide: it was encoded by another family's text encoder")
    return pooled.float()


def sdxl_y(opts: Mapping[str, Any], dims: tuple[int, int]) -> Tensor:
    """The base model's y [B, 2816] for one entry at latent size ``dims`` (h, w)."""
    pooled = _pooled(opts, "SDXL")
    width = opts.get("width", dims[1] * 8)
    height = opts.get("height", dims[0] * 8)
    values = [height, width, opts.get("crop_h", 0), opts.get("crop_w", 0), opts.get("target_height", height),
              opts.get("target_width", width)]
    flat = embed_numbers(values).repeat(pooled.shape[0], 1)
    return torch.cat([pooled.to(flat.device), flat], dim=1)


def refiner_y(opts: Mapping[str, Any], dims: tuple[int, int], prompt_type: str) -> Tensor:
    """The refiner's y [B, 2560]; the aesthetic score defaults to 6 (positive) or 2.5 (negative)."""
    pooled = _pooled(opts, "SDXL refiner")
    width = opts.get("width", dims[1] * 8)
    height = opts.get("height", dims[0] * 8)
    score = opts.get("aesthetic_score", 2.5 if prompt_type == "negative" else 6.0)
    values = [height, width, opts.get("crop_h", 0), opts.get("crop_w", 0), score]
    flat = embed_numbers(values).repeat(pooled.shape[0], 1)
    return torch.cat([pooled.to(flat.device), flat], dim=1)


@dataclass(frozen=True)
class AdmEncoder:
    """The model inputs besides the context an SDXL UNet takes for one conditioning entry: ``{"y": ...}``; the
    entry's context width is checked against the UNet's cross-attention width first."""

    family: str
    context_dim: int

    def __call__(self, cross_attn: Tensor, opts: Mapping[str, Any], dims: tuple[int, int],
                 prompt_type: str) -> dict[str, Tensor]:
        if cross_attn.shape[-1] != self.context_dim:
            encoders = {2048: "SDXL base's CLIP-L + CLIP-G", 1280: "the SDXL refiner's CLIP-G"}
            want = encoders.get(self.context_dim, f"a {self.context_dim}-wide text encoder")
            raise ConditioningMismatch(
                f"the {self.family} model takes {self.context_dim}-wide conditioning ({want}); this conditioning is "
                f"{cross_attn.shape[-1]}-wide: encode the prompt with this model's own CLIP")
        if self.family == "sdxl_refiner":
            return {"y": refiner_y(opts, dims, prompt_type)}
        return {"y": sdxl_y(opts, dims)}


def adm_encoder(model: Any) -> AdmEncoder | None:
    """The ADM encoder of a DiffusionModel of an SDXL family, None for the others (no ``y``)."""
    family = getattr(getattr(model, "family", None), "name", None)
    if family not in ("sdxl", "sdxl_refiner"):
        return None
    cfg = getattr(getattr(model, "unet", None), "config", None)
    return AdmEncoder(family, int(getattr(cfg, "context_dim", 2048 if family == "sdxl" else 1280)))


__all__ = ["ADM_EMBED_DIM", "AdmEncoder", "ConditioningMismatch", "adm_encoder", "embed_numbers", "refiner_y",
           "sdxl_y"]
