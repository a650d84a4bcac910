"""Sampling for discrete-time diffusion models: model sampling (sigmas, eps/v), schedulers, samplers as
plain functions over a denoiser, CFG with ComfyUI's conditioning semantics, and latent previews.

Names are resolved on first use (PEP 562): node modules list the sampler and scheduler names at load time,
and loading the node registry must not import torch."""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the submodule defining it
_WHERE = {
    **dict.fromkeys(["LatentChannelsMismatch", "SamplerNotImplemented", "SamplingError", "SamplingInterrupted",
                     "UnknownPrediction", "UnknownSampler", "UnknownScheduler"], "errors"),
    "ModelSampling": "model_sampling",
    **dict.fromkeys(["SCHEDULER_NAMES", "SCHEDULERS", "calculate_sigmas", "ksampler_sigmas"], "schedulers"),
    **dict.fromkeys(["SAMPLER_NAMES", "SAMPLERS", "run_sampler", "sampler_function"], "table"),
    "ksampler": "ksampler",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = sorted(_WHERE)
