"""Errors of the sampling package, each a named type."""

from __future__ import annotations


class SamplingError(Exception):
    """Base class of every error raised by host.models.sampling."""


class UnknownPrediction(SamplingError, ValueError):
    """A model prediction type other than "eps" or "v"."""


class UnknownScheduler(SamplingError, ValueError):
    """A scheduler name that is not one of SCHEDULER_NAMES."""


class UnknownSampler(SamplingError, ValueError):
    """A sampler name that is not one of SAMPLER_NAMES."""


class SamplerNotImplemented(SamplingError, NotImplementedError):
    """A sampler name ComfyUI offers that this host does not implement (never silently replaced)."""


class LatentChannelsMismatch(SamplingError, ValueError):
    """A latent whose channel count is not the model's (and which is not an empty latent to be widened)."""


class SamplingInterrupted(SamplingError):
    """Sampling was stopped because ``interrupted()`` returned True."""


class InvalidSigmas(SamplingError, ValueError):
    """SIGMAS that are not a 1-D float tensor, or an operation a schedule this short cannot take."""


class WrongInputType(SamplingError, TypeError):
    """A custom-sampling input (NOISE, GUIDER, SAMPLER, SIGMAS, MODEL) given a value of another kind."""
