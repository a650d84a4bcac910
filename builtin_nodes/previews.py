"""Latent previews while sampling (``--preview-method``, MODELS_FACTS §10): Latent2RGB of the denoised
estimate's first batch item, at latent resolution, sent as ComfyUI's ``("JPEG", image, 512)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")

#: rows = latent channels, columns R, G, B
SD1_FACTORS = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721),
               (-0.2120, -0.2616, -0.7177))
SDXL_FACTORS = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362),
                (-0.3165, -0.2492, -0.2188))
SDXL_BIAS = (0.1084, -0.0175, -0.0011)
MAX_PREVIEW = 512


def latent2rgb(x0: Any, factors: Any, bias: Any = None) -> Any:
    """A PIL image of ``x0[0]`` ([C, h, w], scaled latent space): rgb = Fᵀz + b, then uint8 of
    clamp((rgb + 1) / 2, 0, 1) * 255, truncated."""
    import torch
    from PIL import Image

    f = torch.tensor(factors, dtype=torch.float32)
    z = x0[0].detach().to("cpu", torch.float32)  # [C, h, w]
    rgb = torch.einsum("chw,cr->hwr", z, f)
    if bias is not None:
        rgb = rgb + torch.tensor(bias, dtype=torch.float32)
    pixels = (((rgb + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    return Image.fromarray(pixels.numpy())


def previewer(method: str, model: Any) -> Callable[[Any], Any] | None:
    """A function from the denoised latent to a preview, or None when previews are off (or the model's latent
    format has no Latent2RGB factors). ``taesd`` falls back to Latent2RGB: no TAESD decoder ships."""
    if method == "none":
        return None
    family = getattr(getattr(model, "family", None), "name", "sd15")
    if family in ("sdxl", "sdxl_refiner"):
        factors, bias = SDXL_FACTORS, SDXL_BIAS
    elif getattr(model, "latent_channels", 4) == 4:
        factors, bias = SD1_FACTORS, None
    else:
        return None
    def make(x0: Any) -> Any:  # x0: the sampler's denoised estimate, in its (scaled) latent space
        return ("JPEG", latent2rgb(x0, factors, bias), MAX_PREVIEW)

    return make


__all__ = ["PREVIEW_METHODS", "latent2rgb", "previewer"]
