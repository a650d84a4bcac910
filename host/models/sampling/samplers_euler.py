"""Euler, Heun and linear-multistep samplers in sigma (k-diffusion's Karras-ODE family)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .denoiser import Callback, Denoiser, get_ancestral_step, notify, ones_like_batch, to_d
from .noise import NoiseSampler, default_noise_sampler


def _seed(extra_args: dict | None) -> int | None:
    return (extra_args or {}).get("seed")


def sample_euler(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                 callback: Callback | None = None) -> Tensor:
    """Euler's method on the probability-flow ODE (Karras et al. 2022, alg. 2 without churn)."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        x = x + to_d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
    return x


def sample_euler_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                           callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                           noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral sampling with Euler steps."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        notify(callback, x, i, sigmas[i], denoised)
        if sigma_down == 0:
            x = denoised
        else:
            d = to_d(x, sigmas[i], denoised)
            x = x + d * (sigma_down - sigmas[i]) + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_euler_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                        callback: Callback | None = None) -> Tensor:
    """CFG++ Euler (Chung et al. 2024): renoise along the unconditional direction."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        x = denoised + to_d(x, sigmas[i], uncond) * sigmas[i + 1]
    return x


def sample_euler_ancestral_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                  callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                                  noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral CFG++ Euler."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
        if eta > 0 and s_noise > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_heun(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                callback: Callback | None = None) -> Tensor:
    """Heun's second-order method (Karras et al. 2022, alg. 2); Euler on the step to 0."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        notify(callback, x, i, sigmas[i], denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, sigmas[i + 1], model(x_2, sigmas[i + 1] * s_in))
            x = x + (d + d_2) / 2 * dt
    return x


def sample_heunpp2(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                   callback: Callback | None = None) -> Tensor:
    """Heun++ (a third evaluation ahead, weights proportional to sigma), Heun then Euler at the end."""
    s_in = ones_like_batch(x)
    s_end = sigmas[-1]
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        notify(callback, x, i, sigmas[i], denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == s_end:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = to_d(x_2, sigmas[i + 1], model(x_2, sigmas[i + 1] * s_in))
        if sigmas[i + 2] == s_end:
            w2 = sigmas[i + 1] / (2 * sigmas[0])
            x = x + (d * (1 - w2) + d_2 * w2) * dt
        else:
            x_3 = x_2 + d_2 * (sigmas[i + 2] - sigmas[i + 1])
            d_3 = to_d(x_3, sigmas[i + 2], model(x_3, sigmas[i + 2] * s_in))
            w = 3 * sigmas[0]
            w2, w3 = sigmas[i + 1] / w, sigmas[i + 2] / w
            x = x + ((1 - w2 - w3) * d + w2 * d_2 + w3 * d_3) * dt
    return x


def sample_dpm_2(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                 callback: Callback | None = None) -> Tensor:
    """DPM-Solver-2 in sigma (Karras et al. 2022's midpoint variant); Euler on the step to 0."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigmas[i])
        else:
            sigma_mid = sigmas[i].log().lerp(sigmas[i + 1].log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigmas[i])
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid * s_in))
            x = x + d_2 * (sigmas[i + 1] - sigmas[i])
    return x


def sample_dpm_2_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                           callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                           noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral sampling with DPM-Solver-2 steps."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        notify(callback, x, i, sigmas[i], denoised)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            sigma_mid = sigmas[i].log().lerp(sigma_down.log(), 0.5).exp()
            x_2 = x + d * (sigma_mid - sigmas[i])
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid * s_in))
            x = x + d_2 * (sigma_down - sigmas[i])
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def linear_multistep_coeff(order: int, t: np.ndarray, i: int, j: int) -> float:
    """∫ from t[i] to t[i+1] of the Lagrange basis polynomial j through t[i], t[i-1], ... t[i-order+1]."""
    from scipy import integrate

    if order - 1 > i:
        raise ValueError(f"order {order} too high for step {i}")

    def basis(tau: float) -> float:
        prod = 1.0
        for k in range(order):
            if j != k:
                prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod

    return float(integrate.quad(basis, t[i], t[i + 1], epsrel=1e-4)[0])


def sample_lms(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
               callback: Callback | None = None, order: int = 4) -> Tensor:
    """Linear multistep (Adams-Bashforth in sigma, order 4, coefficients by quadrature)."""
    s_in = ones_like_batch(x)
    sigmas_np = sigmas.detach().cpu().double().numpy()
    ds: list[Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        ds = [*ds, to_d(x, sigmas[i], denoised)][-order:]
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        cur_order = min(i + 1, order)
        coeffs = [linear_multistep_coeff(cur_order, sigmas_np, i, j) for j in range(cur_order)]
        x = x + sum(c * d for c, d in zip(coeffs, reversed(ds), strict=False))
    return x


def sample_lcm(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
               callback: Callback | None = None, noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Latent consistency sampling: jump to D, renoise to the next sigma."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1]
    return x


def _ddpm_step(x: Tensor, sigma: Tensor, sigma_prev: Tensor, eps: Tensor, noise_sampler: NoiseSampler) -> Tensor:
    alpha_cumprod = 1 / (sigma * sigma + 1)
    alpha_cumprod_prev = 1 / (sigma_prev * sigma_prev + 1)
    alpha = alpha_cumprod / alpha_cumprod_prev
    mu = (1.0 / alpha).sqrt() * (x - (1 - alpha) * eps / (1 - alpha_cumprod).sqrt())
    if sigma_prev > 0:
        mu = mu + ((1 - alpha) * (1.0 - alpha_cumprod_prev) / (1.0 - alpha_cumprod)).sqrt() * noise_sampler(
            sigma, sigma_prev)
    return mu


def sample_ddpm(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                callback: Callback | None = None, noise_sampler: NoiseSampler | None = None) -> Tensor:
    """DDPM ancestral sampling (Ho et al. 2020) in the variance-preserving frame."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        eps = (x - denoised) / sigmas[i]
        x = _ddpm_step(x / torch.sqrt(1.0 + sigmas[i] ** 2.0), sigmas[i], sigmas[i + 1], eps, noise_sampler)
        if sigmas[i + 1] != 0:
            x = x * torch.sqrt(1.0 + sigmas[i + 1] ** 2.0)
    return x


def _gradient_estimation(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback | None,
                         ge_gamma: float, cfg_pp: bool) -> Tensor:
    s_in = ones_like_batch(x)
    old_d = None
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in) if cfg_pp else (model(x, sigmas[i] * s_in), None)
        d = to_d(x, sigmas[i], uncond if uncond is not None else denoised)
        notify(callback, x, i, sigmas[i], denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            x = denoised + d * sigmas[i + 1] if cfg_pp else x + d * dt
            if old_d is not None:
                x = x + (ge_gamma - 1) * (d - old_d) * dt
        old_d = d
    return x


def sample_gradient_estimation(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                               callback: Callback | None = None, ge_gamma: float = 2.0) -> Tensor:
    """Gradient-estimation sampler (Permenter & Yuan 2024): Euler plus a gamma-weighted gradient correction."""
    return _gradient_estimation(model, x, sigmas, callback, ge_gamma, cfg_pp=False)


def sample_gradient_estimation_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                      callback: Callback | None = None, ge_gamma: float = 2.0) -> Tensor:
    """Gradient estimation with CFG++ steps."""
    return _gradient_estimation(model, x, sigmas, callback, ge_gamma, cfg_pp=True)
