"""Discrete-time model sampling (SD1/SD2): the sigma table, sigma <-> timestep, and the eps / v
parameterisations that turn a UNet output into a denoised prediction (ComfyUI's ``ModelSamplingDiscrete``
with its ``EPS`` and ``V_PREDICTION`` mixins; MODELS_FACTS.md §4)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .errors import UnknownPrediction

PREDICTIONS = ("eps", "v")


def scaled_linear_betas(linear_start: float, linear_end: float, timesteps: int) -> Tensor:
    """"linear" in the LDM configs: linear in sqrt(beta), squared; fp64 (``make_beta_schedule``)."""
    return torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2


def _as_sigma(sigma: Tensor | float, like: Tensor) -> Tensor:
    """sigma broadcast against ``like`` ([B] -> [B,1,1,1]; a scalar stays a scalar)."""
    if not isinstance(sigma, Tensor):
        return torch.tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(sigma.shape[:1] + (1,) * (like.ndim - 1)) if sigma.ndim else sigma


@dataclass(frozen=True, eq=False)
class ModelSampling:
    """The noise schedule of a discrete-time diffusion model and its prediction type.

    ``sigmas`` / ``log_sigmas`` are fp32 on the CPU (index i = timestep i); ``prediction`` is "eps" or "v".
    """

    sigmas: Tensor
    log_sigmas: Tensor
    prediction: str = "eps"
    sigma_data: float = 1.0

    @classmethod
    def discrete(cls, prediction: str = "eps", linear_start: float = 0.00085, linear_end: float = 0.012,
                 timesteps: int = 1000) -> ModelSampling:
        """SD1/SD2's schedule: scaled-linear betas, sigma_i = sqrt((1 - abar_i) / abar_i)."""
        if prediction not in PREDICTIONS:
            raise UnknownPrediction(f"unknown prediction type {prediction!r} (expected one of {PREDICTIONS})")
        alphas_cumprod = torch.cumprod(1.0 - scaled_linear_betas(linear_start, linear_end, timesteps), dim=0)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        return cls(sigmas=sigmas.float(), log_sigmas=sigmas.log().float(), prediction=prediction)

    def to(self, device: torch.device | str) -> ModelSampling:
        """A copy with its tables on ``device`` (so timestep() needs no transfer per call)."""
        return ModelSampling(self.sigmas.to(device), self.log_sigmas.to(device), self.prediction, self.sigma_data)

    @property
    def sigma_min(self) -> Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> Tensor:
        return self.sigmas[-1]

    @property
    def num_timesteps(self) -> int:
        return len(self.sigmas)

    def timestep(self, sigma: Tensor) -> Tensor:
        """The nearest integer timestep in log-sigma (no interpolation), same shape and device as sigma."""
        dists = sigma.log().to(self.log_sigmas.device) - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape).to(sigma.device)

    def sigma(self, timestep: Tensor | float) -> Tensor:
        """sigma at a (fractional) timestep, interpolated in log-sigma."""
        ts = timestep if isinstance(timestep, Tensor) else torch.tensor(float(timestep))
        t = torch.clamp(ts.float().to(self.log_sigmas.device), min=0, max=self.num_timesteps - 1)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]
        return log_sigma.exp().to(ts.device)

    def percent_to_sigma(self, percent: float) -> float:
        """ConditioningSetTimestepRange's percent (0 = start of sampling) as a sigma."""
        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        return float(self.sigma(torch.tensor((1.0 - percent) * (self.num_timesteps - 1.0))))

    def calculate_input(self, sigma: Tensor, x: Tensor) -> Tensor:
        """The UNet's input c_in * x."""
        s = _as_sigma(sigma, x)
        return x / (s**2 + self.sigma_data**2) ** 0.5

    def calculate_denoised(self, sigma: Tensor, model_output: Tensor, model_input: Tensor) -> Tensor:
        """D (the x0 prediction) from the UNet output at the uncast input x."""
        s = _as_sigma(sigma, model_output)
        if self.prediction == "v":
            sd2 = self.sigma_data**2
            return model_input * sd2 / (s**2 + sd2) - model_output * s * self.sigma_data / (s**2 + sd2) ** 0.5
        return model_input - model_output * s

    def noise_scaling(self, sigma: Tensor | float, noise: Tensor, latent: Tensor, max_denoise: bool = False) -> Tensor:
        """The starting x: noise scaled to sigma (to sqrt(1 + sigma^2) at full denoise) plus the latent."""
        s = _as_sigma(sigma, noise)
        return noise * (torch.sqrt(1.0 + s**2) if max_denoise else s) + latent

    def inverse_noise_scaling(self, sigma: Tensor | float, latent: Tensor) -> Tensor:
        return latent

    def is_max_denoise(self, sigmas: Tensor) -> bool:
        """True when sampling starts at (or above) sigma_max: the first x is then noise * sqrt(1 + sigma^2)."""
        max_sigma, sigma = float(self.sigma_max), float(sigmas[0])
        return math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma
