"""Sampling for discrete-time diffusion models: model sampling (sigmas, eps/v), schedulers, samplers as
plain functions over a denoiser, CFG with ComfyUI's conditioning semantics, and latent previews."""

from .denoiser import Denoiser, PlainDenoiser
from .errors import (
    LatentChannelsMismatch,
    SamplerNotImplemented,
    SamplingError,
    SamplingInterrupted,
    UnknownPrediction,
    UnknownSampler,
    UnknownScheduler,
)
from .ksampler import ksampler
from .model_sampling import ModelSampling
from .noise import BrownianTreeNoiseSampler, default_noise_sampler, prepare_noise
from .preview import SD1_LATENT_RGB, latent_preview_image, latent_to_rgb
from .schedulers import SCHEDULER_NAMES, SCHEDULERS, calculate_sigmas, ksampler_sigmas
from .table import SAMPLER_NAMES, SAMPLERS, run_sampler, sampler_function

__all__ = [
    "SD1_LATENT_RGB",
    "ksampler",
    "latent_preview_image",
    "latent_to_rgb",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "BrownianTreeNoiseSampler",
    "Denoiser",
    "PlainDenoiser",
    "default_noise_sampler",
    "prepare_noise",
    "run_sampler",
    "sampler_function",
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
