"""Sampling for discrete-time diffusion models: model sampling (sigmas, eps/v), schedulers, samplers as
plain functions over a denoiser, CFG with ComfyUI's conditioning semantics, and latent previews.

The names and errors import without torch; everything else is loaded on first use (PEP 562), so node
definitions can list SAMPLER_NAMES / SCHEDULER_NAMES at load time without importing torch."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    LatentChannelsMismatch,
    SamplerNotImplemented,
    SamplingError,
    SamplingInterrupted,
    UnknownPrediction,
    UnknownSampler,
    UnknownScheduler,
)
from .names import SAMPLER_NAMES, SCHEDULER_NAMES

_LAZY = {
    "Denoiser": "denoiser", "PlainDenoiser": "denoiser",
    "ksampler": "ksampler_run",  # a module named as the function would shadow it once imported
    "ModelSampling": "model_sampling",
    "BrownianTreeNoiseSampler": "noise", "default_noise_sampler": "noise", "prepare_noise": "noise",
    "SD1_LATENT_RGB": "preview", "latent_preview_image": "preview", "latent_to_rgb": "preview",
    "SCHEDULERS": "schedulers", "calculate_sigmas": "schedulers", "ksampler_sigmas": "schedulers",
    "SAMPLERS": "table", "run_sampler": "table", "sampler_function": "table",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "SAMPLERS", "SAMPLER_NAMES", "SCHEDULERS", "SCHEDULER_NAMES", "SD1_LATENT_RGB", "BrownianTreeNoiseSampler",
    "Denoiser", "LatentChannelsMismatch", "ModelSampling", "PlainDenoiser", "SamplerNotImplemented",
    "SamplingError", "SamplingInterrupted", "UnknownPrediction", "UnknownSampler", "UnknownScheduler",
    "calculate_sigmas", "default_noise_sampler", "ksampler", "ksampler_sigmas", "latent_preview_image",
    "latent_to_rgb", "prepare_noise", "run_sampler", "sampler_function",
]
