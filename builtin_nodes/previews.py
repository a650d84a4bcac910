"""Latent previews while sampling (``--preview-method``, MODELS_FACTS §10), sent as ComfyUI's
``("JPEG", image, 512)``: TAESD when its decoder is in ``models/vae_approx`` (``taesd`` and ``auto``), else
Latent2RGB of the denoised estimate's first batch item at latent resolution (``latent2rgb``, and ``auto`` or
``taesd`` without the decoder file, as ComfyUI falls back)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("nodehost.previews")

PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")
MAX_PREVIEW = 512


def previewer(method: str, model: Any, models: Any = None) -> Callable[[Any], Any] | None:
    """A function from the denoised latent (scaled latent space) to a preview, or None when previews are off
    or the model's latent format has none. ``models``: the ModelManager that finds TAESD decoders."""
    if method == "none" or getattr(model, "latent_channels", 4) != 4:
        return None
    family = getattr(getattr(model, "family", None), "name", "sd15")
    xl = family in ("sdxl", "sdxl_refiner")
    if method in ("auto", "taesd") and models is not None:
        decoder = models.taesd_decoder("sdxl" if xl else "sd1")
        if decoder is not None:
            from host.models.taesd import preview

            return lambda x0: ("JPEG", preview(decoder, x0), MAX_PREVIEW)
        if method == "taesd":
            log.warning("no %s in models/vae_approx: previews use Latent2RGB",
                        "taesdxl_decoder" if xl else "taesd_decoder")
    from host.models.sampling.preview import SD1_LATENT_RGB, SDXL_LATENT_RGB, SDXL_LATENT_RGB_BIAS, latent_preview_image

    factors, bias = (SDXL_LATENT_RGB, SDXL_LATENT_RGB_BIAS) if xl else (SD1_LATENT_RGB, None)
    return lambda x0: ("JPEG", latent_preview_image(x0, factors, bias), MAX_PREVIEW)


__all__ = ["MAX_PREVIEW", "PREVIEW_METHODS", "previewer"]
