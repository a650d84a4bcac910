"""SA-Solver (Xue et al. 2023): stochastic Adams predictor-corrector in log-SNR time, noise injected with
tau = 1 between 20% and 80% of the schedule (0 elsewhere). Variance-exploding models: alpha = 1."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .denoiser import Callback, Denoiser, notify, ones_like_batch
from .model_sampling import ModelSampling
from .noise import NoiseSampler, default_noise_sampler

_SD = ModelSampling.discrete  # the schedule the default tau interval is read from (SD1/SD2 share it)


def exponential_coeffs(s: Tensor, t: Tensor, order: int, tau: float) -> Tensor:
    """I_p = (1+tau²) ∫_s^t exp((1+tau²)(x - t)) x^p dx for p < order, by repeated integration by parts."""
    k = 1 + tau**2
    h = t - s
    p = torch.arange(order, dtype=s.dtype, device=s.device)
    product_terms = t**p - s**p * (-k * h).exp()
    depth = p.unsqueeze(1) - p.unsqueeze(0)
    log_fact = (p + 1).lgamma()
    coeff = log_fact.unsqueeze(1) - log_fact.unsqueeze(0)
    if tau > 0:
        coeff = coeff - depth * math.log(k)
    signs = torch.where(depth % 2 == 0, 1.0, -1.0)
    return (coeff.exp() * signs).tril() @ product_terms


def adams_b_coeffs(lambdas: Tensor, lambda_s: Tensor, lambda_t: Tensor, tau: float) -> Tensor:
    """Weights of the data predictions at ``lambdas`` (Lagrange-basis integrals of the exponential kernel)."""
    n = lambdas.shape[0]
    integrals = exponential_coeffs(lambda_s, lambda_t, n, tau)
    return torch.linalg.solve(torch.vander(lambdas, n, increasing=True).T, integrals)


def simple_order_2_coeffs(lambda_prev: Tensor, lambda_s: Tensor, lambda_t: Tensor, tau: float,
                          corrector: bool) -> Tensor:
    """Two-point weights (older, newer) to first order in h, summing to 1 - exp(-(1+tau²)h): the predictor
    extrapolates as DPM-Solver++(2M) does (older weight -h/(2 h_prev) of the total), the corrector averages."""
    total = -torch.expm1(-(1 + tau**2) * (lambda_t - lambda_s))
    older = total / 2 if corrector else -total * (lambda_t - lambda_s) / (2 * (lambda_s - lambda_prev))
    return torch.stack([older, total - older])


def tau_interval(start_sigma: float, end_sigma: float, eta: float = 1.0) -> Callable[[Tensor], float]:
    def tau(sigma: Tensor) -> float:
        return eta if eta > 0 and start_sigma >= float(sigma) >= end_sigma else 0.0

    return tau


def sample_sa_solver(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                     callback: Callback | None = None, tau_func: Callable[[Tensor], float] | None = None,
                     s_noise: float = 1.0, noise_sampler: NoiseSampler | None = None, predictor_order: int = 3,
                     corrector_order: int = 4, use_pece: bool = False, simple_order_2: bool = False) -> Tensor:
    """Stochastic Adams solver, predictor order 3, corrector order 4; ``simple_order_2`` uses the first-order
    two-point weights (simple_order_2_coeffs) wherever a step is of order 2."""
    if len(sigmas) <= 1:
        return x
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=(extra_args or {}).get("seed"))
    if tau_func is None:
        ms = _SD()
        tau_func = tau_interval(ms.percent_to_sigma(0.2), ms.percent_to_sigma(0.8))
    s_in = ones_like_batch(x)
    lambdas = sigmas.log().neg()
    max_order = max(predictor_order, corrector_order)
    x_pred, h, tau_t, noise = x, torch.zeros(()), 0.0, torch.zeros(())
    preds: list[Tensor] = []
    lower_to_end = float(sigmas[-1]) == 0
    for i in range(len(sigmas) - 1):
        denoised = model(x_pred, sigmas[i] * s_in)
        notify(callback, x_pred, i, sigmas[i], denoised)
        preds = [*preds, denoised][-max_order:]
        p_order = min(predictor_order, len(preds))
        c_order = 0 if i == 0 or (sigmas[i + 1] == 0 and not use_pece) else min(corrector_order, len(preds))
        if lower_to_end:
            p_order = min(p_order, len(sigmas) - 2 - i)
            c_order = min(c_order, len(sigmas) - 1 - i)
        if c_order == 0:
            x = x_pred
        else:
            if simple_order_2 and c_order == 2:
                b = simple_order_2_coeffs(lambdas[i - 1], lambdas[i - 1], lambdas[i], tau_t, corrector=True)
            else:
                b = adams_b_coeffs(lambdas[i - c_order + 1:i + 1], lambdas[i - 1], lambdas[i], tau_t)
            corr = torch.tensordot(torch.stack(preds[-c_order:], dim=1), b, dims=([1], [0]))
            x = sigmas[i] / sigmas[i - 1] * (-(tau_t**2) * h).exp() * x + corr
            if tau_t > 0 and s_noise > 0:
                x = x + noise
            if use_pece:
                denoised = model(x, sigmas[i] * s_in)
                preds[-1] = denoised
        if sigmas[i + 1] == 0:
            x_pred = denoised
            continue
        tau_t = tau_func(sigmas[i + 1])
        if simple_order_2 and p_order == 2:
            b = simple_order_2_coeffs(lambdas[i - 1], lambdas[i], lambdas[i + 1], tau_t, corrector=False)
        else:
            b = adams_b_coeffs(lambdas[i - p_order + 1:i + 1], lambdas[i], lambdas[i + 1], tau_t)
        pred = torch.tensordot(torch.stack(preds[-p_order:], dim=1), b, dims=([1], [0]))
        h = lambdas[i + 1] - lambdas[i]
        x_pred = sigmas[i + 1] / sigmas[i] * (-(tau_t**2) * h).exp() * x + pred
        if tau_t > 0 and s_noise > 0:
            noise = noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (
                -2 * tau_t**2 * h).expm1().neg().sqrt() * s_noise
            x_pred = x_pred + noise
    return x_pred


def sample_sa_solver_pece(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                          callback: Callback | None = None, s_noise: float = 1.0,
                          noise_sampler: NoiseSampler | None = None) -> Tensor:
    """SA-Solver in predict-evaluate-correct-evaluate mode."""
    return sample_sa_solver(model, x, sigmas, extra_args, callback, s_noise=s_noise, noise_sampler=noise_sampler,
                            use_pece=True)
