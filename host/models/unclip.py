"""SD2.1 unCLIP (Stability's stable-diffusion-2-1-unclip -l and -h): the UNet's class embedding ``y`` is a CLIP
image embedding, noise-augmented, and the embedding of its noise level (ComfyUI's ``unclip_adm`` and
``CLIPEmbeddingNoiseAugmentation``).

Per unCLIPConditioning entry and per image embedding e (width d = adm_channels / 2):
level = round(999 · noise_augmentation); z = sqrt(abar_level)·e + sqrt(1 - abar_level)·n with n a CPU normal draw
from a generator seeded (KSampler seed - 10) and abar the "squaredcos_cap_v2" schedule (1000 steps, alpha_bar(t)
= cos²((t + 0.008)/1.008 · π/2), betas capped at 0.999); y = [z, sinusoid_d(level)] · strength. Several embeddings
are summed, and the sum's first d features are augmented again at the merge level (0.05 by default, the entry's
``unclip_noise_augment_merge``) without a seed. An entry without unCLIP conditioning gets y = 0.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import torch

from host.models.unet import timestep_embedding

UNCLIP_FAMILIES = ("sd21_unclip_l", "sd21_unclip_h")
MAX_NOISE_LEVEL = 1000
MERGE_NOISE = 0.05


@lru_cache(maxsize=1)
def _sqrt_alphas() -> tuple[torch.Tensor, torch.Tensor]:
    """(sqrt(abar), sqrt(1 - abar)) of the squaredcos_cap_v2 schedule, fp32."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    n = MAX_NOISE_LEVEL
    betas = torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)],
                         dtype=torch.float64)
    abar = torch.cumprod(1.0 - betas, dim=0)
    return abar.sqrt().float(), (1.0 - abar).sqrt().float()


def noise_augment(x: torch.Tensor, level: int, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(the embedding noised to ``level``, the level's sinusoidal embedding), both [B, d]."""
    sqrt_a, sqrt_1ma = _sqrt_alphas()
    if seed is None:
        noise = torch.randn(x.shape, dtype=x.dtype)
    else:
        noise = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(seed))
    z = sqrt_a[level] * x + sqrt_1ma[level] * noise.to(x.device)
    emb = timestep_embedding(torch.tensor([level], device=x.device), x.shape[1]).to(x.dtype)
    return z, emb.expand(x.shape[0], -1)


def _level(augmentation: float) -> int:
    return round((MAX_NOISE_LEVEL - 1) * augmentation)


def unclip_adm(unclip_conditioning: list[dict[str, Any]], adm_channels: int, seed: int,
               merge: float = MERGE_NOISE) -> torch.Tensor:
    """y [1, adm_channels] of an entry's unCLIP conditioning."""
    outs = []
    for entry in unclip_conditioning:
        strength, augmentation = float(entry["strength"]), float(entry["noise_augmentation"])
        for embed in entry["clip_vision_output"]["image_embeds"]:
            z, emb = noise_augment(embed.float()[None], _level(augmentation), seed)
            outs.append(torch.cat((z, emb), 1) * strength)
    if not outs:
        return torch.zeros(1, adm_channels)
    if len(outs) == 1:
        return outs[0]
    summed = torch.stack(outs).sum(0)
    z, emb = noise_augment(summed[:, : adm_channels // 2], _level(merge))
    return torch.cat((z, emb), 1)


def model_adm(model: Any, options: dict[str, Any], seed: int) -> torch.Tensor | None:
    """The y a conditioning entry gives ``model``: unCLIP's for the unCLIP families, None for any other."""
    family = getattr(model, "family", None)
    if getattr(family, "name", None) not in UNCLIP_FAMILIES:
        return None
    adm = family.unet.adm_in_channels
    cond = options.get("unclip_conditioning")
    if not cond:
        return torch.zeros(1, adm)
    return unclip_adm(cond, adm, seed - 10, float(options.get("unclip_noise_augment_merge", MERGE_NOISE)))


__all__ = ["UNCLIP_FAMILIES", "model_adm", "noise_augment", "unclip_adm"]
