"""Sigma schedules with explicit parameters and the operations on SIGMAS that ComfyUI's custom-sampling nodes
offer (``comfy_extras.nodes_custom_sampler``): Karras/exponential live in schedulers.py; polyexponential,
Laplace, VP and SD-Turbo here, with BasicScheduler's denoise rule, splitting, flipping and extending.

SIGMAS is a 1-D float tensor, highest sigma first, usually ending in 0."""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import Tensor

from .errors import InvalidSigmas, WrongInputType
from .model_sampling import ModelSampling
from .schedulers import calculate_sigmas

SPACINGS = ("linear", "cosine", "sine")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def check_sigmas(value: Any, name: str = "sigmas") -> Tensor:
    """``value`` as SIGMAS, or a named error saying what it is instead."""
    if not isinstance(value, Tensor):
        raise WrongInputType(f"{name} must be SIGMAS (a 1-D float tensor), got {type(value).__name__}")
    if value.ndim != 1 or not value.is_floating_point():
        raise InvalidSigmas(f"{name} must be a 1-D float tensor, got {value.dtype} of shape {list(value.shape)}")
    return value


def _append_zero(sigmas: Tensor) -> Tensor:
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def get_sigmas_polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> Tensor:
    """log sigma falls from log sigma_max to log sigma_min along ramp^rho (rho 1: exponential)."""
    ramp = torch.linspace(1, 0, n) ** rho
    return _append_zero(torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)))


def get_sigmas_laplace(n: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> Tensor:
    """log sigma at the Laplace(mu, beta) quantiles of n evenly spaced points (Hang et al. 2024), clamped."""
    eps = 1e-5
    x = torch.linspace(0, 1, n).clamp(min=eps, max=1 - eps)
    lmb = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * torch.abs(0.5 - x) + eps)
    return _append_zero(torch.exp(lmb).clamp(min=sigma_min, max=sigma_max))


def get_sigmas_vp(n: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> Tensor:
    """The continuous VP-SDE's sigmas (Song et al. 2021) at t evenly spaced from 1 to eps_s."""
    t = torch.linspace(1, eps_s, n)
    return _append_zero(torch.sqrt(torch.exp(beta_d * t**2 / 2 + beta_min * t) - 1))


def sd_turbo(ms: ModelSampling, steps: int, denoise: float) -> Tensor:
    """SD-Turbo's timesteps 999, 899, ... 99, entered at 10 - int(10 * denoise), ``steps`` of them, then 0."""
    start = 10 - int(10 * denoise)
    timesteps = torch.flip(torch.arange(1, 11) * 100 - 1, (0,))[start:start + steps]
    return _append_zero(ms.sigma(timesteps).cpu())


def basic_scheduler(ms: ModelSampling, scheduler: str, steps: int, denoise: float) -> Tensor:
    """BasicScheduler: a named scheduler's sigmas; below denoise 1, int(steps / denoise) steps are scheduled
    and the last steps + 1 sigmas kept; denoise 0 gives no sigmas (sampling then leaves the latent as is)."""
    total = steps
    if denoise < 1.0:
        if denoise <= 0.0:
            return torch.FloatTensor([])
        total = int(steps / denoise)
    return calculate_sigmas(ms, scheduler, total).cpu()[-(steps + 1):]


def split(sigmas: Tensor, step: int) -> tuple[Tensor, Tensor]:
    """(sigmas up to and including index ``step``, sigmas from index ``step``): they share sigma[step]."""
    return sigmas[:step + 1], sigmas[step:]


def split_denoise(sigmas: Tensor, denoise: float) -> tuple[Tensor, Tensor]:
    """Split so the low part holds the last round(steps · denoise) steps (ComfyUI's slicing, so denoise 0
    leaves the high part empty and the low part the last sigma)."""
    total = round(max(sigmas.shape[-1] - 1, 0) * denoise)
    return sigmas[:-total], sigmas[-(total + 1):]


def flip(sigmas: Tensor) -> Tensor:
    """Lowest first (for inversion); a leading 0 becomes 0.0001."""
    if len(sigmas) == 0:
        return sigmas
    out = sigmas.flip(0)
    if out[0] == 0:
        out[0] = 0.0001
    return out


def set_first(sigmas: Tensor, sigma: float) -> Tensor:
    if len(sigmas) == 0:
        raise InvalidSigmas("SetFirstSigma needs at least one sigma; the sigmas are empty")
    out = sigmas.clone()
    out[0] = sigma
    return out


def _spacing(name: str, x: Tensor) -> Tensor:
    if name == "linear":
        return x
    if name == "cosine":
        return torch.sin(x * math.pi / 2)
    if name == "sine":
        return 1 - torch.cos(x * math.pi / 2)
    raise InvalidSigmas(f"unknown spacing {name!r}; expected one of {', '.join(SPACINGS)}")


def extend_intermediate(sigmas: Tensor, steps: int, start_at_sigma: float, end_at_sigma: float,
                        spacing: str = "linear") -> Tensor:
    """``steps - 1`` extra sigmas inside every step whose sigma lies in [end_at_sigma, start_at_sigma]
    (start < 0: no upper bound), placed by ``spacing`` between the step's two sigmas."""
    upper = math.inf if start_at_sigma < 0 else start_at_sigma
    fractions = _spacing(spacing, torch.linspace(0, 1, steps + 1)[1:-1])
    out: list[float] = []
    for i in range(len(sigmas) - 1):
        current, following = sigmas[i], sigmas[i + 1]  # 0-d tensors: the arithmetic stays in their dtype
        out.append(float(current))
        if end_at_sigma <= float(current) <= upper:
            out.extend((fractions * (following - current) + current).tolist())
    if len(sigmas) > 0:
        out.append(float(sigmas[-1]))
    return torch.FloatTensor(out)


def parse_manual(text: str) -> Tensor:
    """ManualSigmas: every number in the text, in order ("1, 0.5" -> [1.0, 0.5])."""
    return torch.FloatTensor([float(v) for v in _NUMBER.findall(text)])


def percent_to_sigma(ms: ModelSampling, percent: float, actual: bool = False) -> float:
    """SamplingPercentToSigma: the sigma at a sampling percent; ``actual`` gives sigma_max at 0 and sigma_min
    at 1 instead of the interval-check values (999999999.9 and 0)."""
    if actual and percent == 0.0:
        return float(ms.sigma_max)
    if actual and percent == 1.0:
        return float(ms.sigma_min)
    return ms.percent_to_sigma(percent)
