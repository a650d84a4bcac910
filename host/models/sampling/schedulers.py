"""The nine schedulers of ComfyUI's KSampler, in its combo order, each a plain function of the model's
sampling and the step count that returns fp32 sigmas ending in 0 (MODELS_FACTS.md §6)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from .errors import UnknownScheduler
from .model_sampling import ModelSampling
from .names import SCHEDULER_NAMES

SchedulerFn = Callable[[ModelSampling, int], Tensor]


def _append_zero(sigmas: Tensor) -> Tensor:
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """Karras et al. (2022), eq. 5: uniform in sigma^(1/rho)."""
    ramp = torch.linspace(0, 1, n)
    min_inv_rho, max_inv_rho = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _append_zero((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho)


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """Uniform in log sigma."""
    return _append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp())


def get_sigmas_kl_optimal(n: int, sigma_min: float, sigma_max: float) -> Tensor:
    """"Align Your Steps" (Sabour et al., 2024) KL-optimal schedule: uniform in arctan(sigma)."""
    u = torch.arange(n, dtype=torch.float).div_(n - 1)
    sigmas = u.new_zeros(n + 1)
    sigmas[:-1] = (u * math.atan(sigma_min) + (1 - u) * math.atan(sigma_max)).tan_()
    return sigmas


def simple(ms: ModelSampling, steps: int) -> Tensor:
    """Evenly spaced in the model's timestep table, from the top."""
    stride = ms.num_timesteps / steps
    sigs = [float(ms.sigmas[-(1 + int(x * stride))]) for x in range(steps)]
    return torch.FloatTensor([*sigs, 0.0])


def normal(ms: ModelSampling, steps: int, sgm: bool = False) -> Tensor:
    """Evenly spaced timesteps between sigma_max's and sigma_min's, mapped through sigma(t)."""
    start, end = ms.timestep(ms.sigma_max), ms.timestep(ms.sigma_min)
    append_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(ms.sigma(end)), 0, abs_tol=0.00001):
            steps += 1
            append_zero = False
        timesteps = torch.linspace(start, end, steps)
    sigs = [float(ms.sigma(ts)) for ts in timesteps]
    return torch.FloatTensor(sigs + [0.0] if append_zero else sigs)


def sgm_uniform(ms: ModelSampling, steps: int) -> Tensor:
    """normal without the final timestep (as SGM's discretisation)."""
    return normal(ms, steps, sgm=True)


def karras(ms: ModelSampling, steps: int) -> Tensor:
    return get_sigmas_karras(steps, float(ms.sigma_min), float(ms.sigma_max))


def exponential(ms: ModelSampling, steps: int) -> Tensor:
    return get_sigmas_exponential(steps, float(ms.sigma_min), float(ms.sigma_max))


def ddim_uniform(ms: ModelSampling, steps: int) -> Tensor:
    """DDIM's uniform timestep skipping: every ⌊1000/steps⌋-th sigma from index 1, reversed, 0 first."""
    x = 1
    if math.isclose(float(ms.sigmas[x]), 0, abs_tol=0.00001):
        steps += 1
        sigs: list[float] = []
    else:
        sigs = [0.0]
    stride = max(ms.num_timesteps // steps, 1)
    while x < ms.num_timesteps:
        sigs.append(float(ms.sigmas[x]))
        x += stride
    return torch.FloatTensor(sigs[::-1])


def beta(ms: ModelSampling, steps: int, alpha: float = 0.6, beta_: float = 0.6) -> Tensor:
    """Beta-distribution timesteps (Lee et al., 2024), duplicates dropped."""
    from scipy.stats import beta as beta_dist

    total = ms.num_timesteps - 1
    ts = np.rint(beta_dist.ppf(1 - np.linspace(0, 1, steps, endpoint=False), alpha, beta_) * total)
    sigs, last = [], -1.0
    for t in ts:
        if t != last:
            sigs.append(float(ms.sigmas[int(t)]))
        last = t
    return torch.FloatTensor([*sigs, 0.0])


def linear_quadratic(ms: ModelSampling, steps: int, threshold_noise: float = 0.025) -> Tensor:
    """Movie Gen's schedule: linear to threshold_noise over the first half, then quadratic to 1."""
    if steps == 1:
        schedule = [1.0, 0.0]
    else:
        lin = steps // 2
        quad = steps - lin
        diff = lin - threshold_noise * steps
        a = diff / (lin * quad**2)
        b = threshold_noise / lin - 2 * diff / quad**2
        c = a * lin**2
        values = [i * threshold_noise / lin for i in range(lin)]
        values += [a * i**2 + b * i + c for i in range(lin, steps)]
        schedule = [1.0 - v for v in [*values, 1.0]]
    return torch.FloatTensor(schedule) * ms.sigma_max.cpu()


def kl_optimal(ms: ModelSampling, steps: int) -> Tensor:
    return get_sigmas_kl_optimal(steps, float(ms.sigma_min), float(ms.sigma_max))


SCHEDULERS: dict[str, SchedulerFn] = {
    "simple": simple,
    "sgm_uniform": sgm_uniform,
    "karras": karras,
    "exponential": exponential,
    "ddim_uniform": ddim_uniform,
    "beta": beta,
    "normal": normal,
    "linear_quadratic": linear_quadratic,
    "kl_optimal": kl_optimal,
}

# samplers that ComfyUI runs on steps+1 sigmas with the penultimate one dropped (KSampler.calculate_sigmas)
DISCARD_PENULTIMATE_SIGMA_SAMPLERS = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def calculate_sigmas(model_sampling: ModelSampling, scheduler_name: str, steps: int) -> Tensor:
    """The fp32 sigmas of a scheduler, trailing 0 included."""
    fn = SCHEDULERS.get(scheduler_name)
    if fn is None:
        raise UnknownScheduler(f"unknown scheduler {scheduler_name!r}; expected one of {', '.join(SCHEDULER_NAMES)}")
    return fn(model_sampling, steps)


def ksampler_sigmas(model_sampling: ModelSampling, scheduler_name: str, sampler_name: str, steps: int,
                    denoise: float = 1.0) -> Tensor:
    """The sigmas KSampler runs: the sampler's penultimate-sigma rule, then denoise (<= 0.9999 schedules
    ⌊steps/denoise⌋ steps and keeps the last steps+1 sigmas; <= 0 gives no sigmas at all)."""
    if denoise <= 0.0:
        return torch.FloatTensor([])
    total = steps if denoise > 0.9999 else int(steps / denoise)
    discard = sampler_name in DISCARD_PENULTIMATE_SIGMA_SAMPLERS
    sigmas = calculate_sigmas(model_sampling, scheduler_name, total + 1 if discard else total)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas if denoise > 0.9999 else sigmas[-(steps + 1):]
