"""Latent2RGB previews (MODELS_FACTS.md §10): rgb = Fᵀz (+ b) of batch item 0 of the denoised estimate in
scaled latent space, then uint8(clamp((rgb + 1) / 2, 0, 1) · 255), truncated, at latent resolution."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

# rows = latent channels 0..3, columns = R, G, B
SD1_LATENT_RGB = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350), (-0.2829, 0.1762, 0.2721),
                  (-0.2120, -0.2616, -0.7177))
SDXL_LATENT_RGB = ((0.3651, 0.4232, 0.4341), (-0.2533, -0.0042, 0.1068), (0.1076, 0.1111, -0.0362),
                   (-0.3165, -0.2492, -0.2188))
SDXL_LATENT_RGB_BIAS = (0.1084, -0.0175, -0.0011)


def latent_to_rgb(x0: Tensor, factors: Any = SD1_LATENT_RGB, bias: Any = None) -> Tensor:
    """uint8 [h, w, 3] preview of ``x0[0]`` ([B, C, h, w])."""
    z = x0[0].detach().to("cpu", torch.float32)
    rgb = torch.einsum("chw,cr->hwr", z, torch.tensor(factors, dtype=torch.float32))
    if bias is not None:
        rgb = rgb + torch.tensor(bias, dtype=torch.float32)
    return (((rgb + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).to(torch.uint8)


def latent_preview_image(x0: Tensor, factors: Any = SD1_LATENT_RGB, bias: Any = None) -> Any:
    """The preview as a PIL image."""
    from PIL import Image

    return Image.fromarray(latent_to_rgb(x0, factors, bias).numpy())
