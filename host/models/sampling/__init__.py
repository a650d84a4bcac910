"""Sampling for discrete-time diffusion models: model sampling (sigmas, eps/v), schedulers, samplers as
plain functions over a denoiser, CFG with ComfyUI's conditioning semantics, and latent previews."""

from .errors import (
    LatentChannelsMismatch,
    SamplerNotImplemented,
    SamplingError,
    SamplingInterrupted,
    UnknownPrediction,
    UnknownSampler,
    UnknownScheduler,
)
from .model_sampling import ModelSampling
from .schedulers import SCHEDULER_NAMES, SCHEDULERS, calculate_sigmas, ksampler_sigmas

__all__ = [
    "SCHEDULERS",
    "SCHEDULER_NAMES",
    "LatentChannelsMismatch",
    "ModelSampling",
    "SamplerNotImplemented",
    "SamplingError",
    "SamplingInterrupted",
    "UnknownPrediction",
    "UnknownSampler",
    "UnknownScheduler",
    "calculate_sigmas",
    "ksampler_sigmas",
]
