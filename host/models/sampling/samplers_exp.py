"""Exponential-integrator samplers in data prediction: RES multistep (Zhang et al. 2023), SEEDS-2/3
(Gonzalez et al. 2023), exponential Heun and ER-SDE (Cui et al. 2023). Variance-exploding models: alpha = 1,
lambda = -log sigma."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .denoiser import Callback, Denoiser, get_ancestral_step, notify, ones_like_batch, to_d
from .noise import NoiseSampler, default_noise_sampler


def _seed(extra_args: dict | None) -> int | None:
    return (extra_args or {}).get("seed")


def _lam(sigma: Tensor) -> Tensor:
    return sigma.log().neg()


def _sig(lam: Tensor) -> Tensor:
    return lam.neg().exp()


def _phi1(t: Tensor) -> Tensor:
    return torch.expm1(t) / t


def _phi2(t: Tensor) -> Tensor:
    return (_phi1(t) - 1.0) / t


def ei_h_phi_1(h: Tensor) -> Tensor:
    """h * phi_1(h)."""
    return torch.expm1(h)


def ei_h_phi_2(h: Tensor) -> Tensor:
    """h * phi_2(h)."""
    return (torch.expm1(h) - h) / h


def res_multistep(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                  callback: Callback | None = None, s_noise: float = 1.0, noise_sampler: NoiseSampler | None = None,
                  eta: float = 1.0, cfg_pp: bool = False) -> Tensor:
    """Second-order RES multistep; ancestral when eta > 0; CFG++ steps when cfg_pp."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    old_sigma_down = old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in) if cfg_pp else (model(x, sigmas[i] * s_in), None)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        notify(callback, x, i, sigmas[i], denoised)
        if sigma_down == 0 or old_denoised is None:
            if uncond is not None:
                x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
            else:
                x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_old, t_next, t_prev = _lam(sigmas[i]), _lam(old_sigma_down), _lam(sigma_down), _lam(sigmas[i - 1])
            h = t_next - t
            c2 = (t_prev - t_old) / h
            phi1_val, phi2_val = _phi1(-h), _phi2(-h)
            b1 = torch.nan_to_num(phi1_val - phi2_val / c2, nan=0.0)
            b2 = torch.nan_to_num(phi2_val / c2, nan=0.0)
            if uncond is not None:
                x = x + (denoised - uncond)
                x = _sig(h) * x + h * (b1 * uncond + b2 * old_denoised)
            else:
                x = _sig(h) * x + h * (b1 * denoised + b2 * old_denoised)
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        old_denoised = uncond if uncond is not None else denoised
        old_sigma_down = sigma_down
    return x


def sample_res_multistep(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                         callback: Callback | None = None) -> Tensor:
    """RES second-order multistep (deterministic)."""
    return res_multistep(model, x, sigmas, extra_args, callback, s_noise=0.0, eta=0.0)


def sample_res_multistep_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                callback: Callback | None = None) -> Tensor:
    """RES multistep with CFG++ steps."""
    return res_multistep(model, x, sigmas, extra_args, callback, s_noise=0.0, eta=0.0, cfg_pp=True)


def sample_res_multistep_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                   callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                                   noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral RES multistep."""
    return res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta)


def sample_res_multistep_ancestral_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor,
                                          extra_args: dict | None = None, callback: Callback | None = None,
                                          eta: float = 1.0, s_noise: float = 1.0,
                                          noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral RES multistep with CFG++ steps."""
    return res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta, cfg_pp=True)


def sample_seeds_2(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                   callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                   noise_sampler: NoiseSampler | None = None, r: float = 0.5, solver_type: str = "phi_1") -> Tensor:
    """SEEDS-2: stochastic explicit exponential derivative-free solver, two stages."""
    if solver_type not in {"phi_1", "phi_2"}:
        raise ValueError("solver_type must be 'phi_1' or 'phi_2'")
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    inject = eta > 0 and s_noise > 0
    s_in = ones_like_batch(x)
    fac = 1 / (2 * r)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lambda_s, lambda_t = _lam(sigmas[i]), _lam(sigmas[i + 1])
        h = lambda_t - lambda_s
        h_eta = h * (eta + 1)
        sigma_s_1 = _sig(torch.lerp(lambda_s, lambda_t, r))
        x_2 = sigma_s_1 / sigmas[i] * (-r * h * eta).exp() * x - ei_h_phi_1(-r * h_eta) * denoised
        if inject:
            sde_noise = (-2 * r * h * eta).expm1().neg().sqrt() * noise_sampler(sigmas[i], sigma_s_1)
            x_2 = x_2 + sde_noise * sigma_s_1 * s_noise
        denoised_2 = model(x_2, sigma_s_1 * s_in)
        if solver_type == "phi_1":
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x - ei_h_phi_1(-h_eta) * torch.lerp(
                denoised, denoised_2, fac)
        else:
            b2 = ei_h_phi_2(-h_eta) / r
            b1 = ei_h_phi_1(-h_eta) - b2
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x - (b1 * denoised + b2 * denoised_2)
        if inject:
            segment = (r - 1) * h * eta
            sde_noise = sde_noise * segment.exp() + segment.mul(2).expm1().neg().sqrt() * noise_sampler(
                sigma_s_1, sigmas[i + 1])
            x = x + sde_noise * sigmas[i + 1] * s_noise
    return x


def sample_seeds_3(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                   callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                   noise_sampler: NoiseSampler | None = None, r_1: float = 1 / 3, r_2: float = 2 / 3) -> Tensor:
    """SEEDS-3: three stages."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    inject = eta > 0 and s_noise > 0
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lambda_s, lambda_t = _lam(sigmas[i]), _lam(sigmas[i + 1])
        h = lambda_t - lambda_s
        h_eta = h * (eta + 1)
        sigma_s_1 = _sig(torch.lerp(lambda_s, lambda_t, r_1))
        sigma_s_2 = _sig(torch.lerp(lambda_s, lambda_t, r_2))
        x_2 = sigma_s_1 / sigmas[i] * (-r_1 * h * eta).exp() * x - ei_h_phi_1(-r_1 * h_eta) * denoised
        if inject:
            sde_noise = (-2 * r_1 * h * eta).expm1().neg().sqrt() * noise_sampler(sigmas[i], sigma_s_1)
            x_2 = x_2 + sde_noise * sigma_s_1 * s_noise
        denoised_2 = model(x_2, sigma_s_1 * s_in)
        x_3 = (sigma_s_2 / sigmas[i] * (-r_2 * h * eta).exp() * x - ei_h_phi_1(-r_2 * h_eta) * denoised
               - r_2 / r_1 * ei_h_phi_2(-r_2 * h_eta) * (denoised_2 - denoised))
        if inject:
            segment = (r_1 - r_2) * h * eta
            sde_noise = sde_noise * segment.exp() + segment.mul(2).expm1().neg().sqrt() * noise_sampler(
                sigma_s_1, sigma_s_2)
            x_3 = x_3 + sde_noise * sigma_s_2 * s_noise
        denoised_3 = model(x_3, sigma_s_2 * s_in)
        x = (sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x - ei_h_phi_1(-h_eta) * denoised
             - 1.0 / r_2 * ei_h_phi_2(-h_eta) * (denoised_3 - denoised))
        if inject:
            segment = (r_2 - 1) * h * eta
            sde_noise = sde_noise * segment.exp() + segment.mul(2).expm1().neg().sqrt() * noise_sampler(
                sigma_s_2, sigmas[i + 1])
            x = x + sde_noise * sigmas[i + 1] * s_noise
    return x


def sample_exp_heun_2_x0(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                         callback: Callback | None = None) -> Tensor:
    """Deterministic exponential Heun, second order, in data prediction and log-SNR time."""
    return sample_seeds_2(model, x, sigmas, extra_args, callback, eta=0.0, s_noise=0.0, r=1.0, solver_type="phi_2")


def sample_exp_heun_2_x0_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                             callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                             noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Stochastic exponential Heun, second order."""
    return sample_seeds_2(model, x, sigmas, extra_args, callback, eta=eta, s_noise=s_noise,
                          noise_sampler=noise_sampler, r=1.0, solver_type="phi_2")


def _er_sde_noise_scaler(x: Tensor) -> Tensor:
    return x * ((x**0.3).exp() + 10.0)


def sample_er_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                  callback: Callback | None = None, s_noise: float = 1.0, noise_sampler: NoiseSampler | None = None,
                  max_stage: int = 3, noise_scaler: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """Extended reverse-time SDE solver (ER-SDE-Solver-3), 200-point integrals; ``noise_scaler`` is the noise
    scale function h(lambda) (default ER-SDE's lambda·(exp(lambda^0.3) + 10))."""
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    scaler = noise_scaler or _er_sde_noise_scaler
    s_in = ones_like_batch(x)
    n_points = 200.0
    point_index = torch.arange(0, n_points, dtype=torch.float32, device=x.device)
    er_lambdas = sigmas  # sigma_t / alpha_t with alpha = 1
    old_denoised = old_denoised_d = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        stage = min(max_stage, i + 1)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lam_s, lam_t = er_lambdas[i], er_lambdas[i + 1]
            r = scaler(lam_t) / scaler(lam_s)
            x = r * x + (1 - r) * denoised
            if stage >= 2:
                dt = lam_t - lam_s
                step = -dt / n_points
                pos = lam_t + point_index * step
                scaled = scaler(pos)
                s = torch.sum(1 / scaled) * step
                denoised_d = (denoised - old_denoised) / (lam_s - er_lambdas[i - 1])
                x = x + (dt + s * scaler(lam_t)) * denoised_d
                if stage >= 3:
                    s_u = torch.sum((pos - lam_s) / scaled) * step
                    denoised_u = (denoised_d - old_denoised_d) / ((lam_s - er_lambdas[i - 2]) / 2)
                    x = x + ((dt**2) / 2 + s_u * scaler(lam_t)) * denoised_u
                old_denoised_d = denoised_d
            if s_noise > 0:
                std = (lam_t**2 - lam_s**2 * r**2).sqrt().nan_to_num(nan=0.0)
                x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * std
        old_denoised = denoised
    return x
