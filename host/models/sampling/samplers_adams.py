"""Multistep samplers with Adams-type coefficients on the eps (dx/dsigma) history: iPNDM, iPNDM-v and
DEIS (Zhang & Chen 2022; Zhou et al. 2024's variable-step iPNDM)."""

from __future__ import annotations

import torch
from torch import Tensor

from .denoiser import Callback, Denoiser, notify, ones_like_batch

_AB_FIXED = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def _push(buffer: list[Tensor], d: Tensor, max_order: int) -> list[Tensor]:
    return [*buffer, d][-(max_order - 1):] if max_order > 1 else []


def sample_ipndm(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                 callback: Callback | None = None, max_order: int = 4) -> Tensor:
    """Improved PNDM: fixed-step Adams-Bashforth on the eps history, order up to 4."""
    s_in = ones_like_batch(x)
    buffer: list[Tensor] = []
    for i in range(len(sigmas) - 1):
        t_cur, t_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, t_cur * s_in)
        notify(callback, x, i, t_cur, denoised)
        d_cur = (x - denoised) / t_cur
        order = min(max_order, i + 1)
        if t_next == 0:
            x_next = denoised
        else:
            history = [d_cur, *reversed(buffer)]
            x_next = x + (t_next - t_cur) * sum(c * d for c, d in zip(_AB_FIXED[order], history, strict=False))
        buffer = _push(buffer, d_cur, max_order)
        x = x_next
    return x


def _ipndm_v_coeffs(order: int, t: Tensor, i: int) -> tuple:
    """Variable-step iPNDM coefficients for d_i, d_{i-1}, ... (they reduce to iPNDM's on uniform steps)."""
    h = t[i + 1] - t[i]
    h1 = t[i] - t[i - 1]
    if order == 2:
        return ((2 + h / h1) / 2, -(h / h1) / 2)
    h2 = t[i - 1] - t[i - 2]
    temp1 = (1 - h / (3 * (h + h1)) * (h * (h + h1)) / (h1 * (h1 + h2))) / 2
    if order == 3:
        return ((2 + h / h1) / 2 + temp1, -(h / h1) / 2 - (1 + h1 / h2) * temp1, temp1 * h1 / h2)
    h3 = t[i - 2] - t[i - 3]
    a, b = h1 / h2, h1 * (h1 + h2) / (h2 * (h2 + h3))
    temp2 = ((1 - h / (3 * (h + h1))) / 2 - (1 - h / (2 * (h + h1))) * h / (6 * (h + h1 + h2))) * (
        h * (h + h1) * (h + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3))
    return ((2 + h / h1) / 2 + temp1 + temp2,
            -(h / h1) / 2 - (1 + a) * temp1 - (1 + a + b) * temp2,
            temp1 * a + (a + b * (1 + h2 / h3)) * temp2,
            -temp2 * b * h2 / h3)


def sample_ipndm_v(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                   callback: Callback | None = None, max_order: int = 4) -> Tensor:
    """iPNDM with variable-step coefficients."""
    s_in = ones_like_batch(x)
    buffer: list[Tensor] = []
    for i in range(len(sigmas) - 1):
        t_cur, t_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, t_cur * s_in)
        notify(callback, x, i, t_cur, denoised)
        d_cur = (x - denoised) / t_cur
        order = min(max_order, i + 1)
        if t_next == 0:
            x_next = denoised
        elif order == 1:
            x_next = x + (t_next - t_cur) * d_cur
        else:
            history = [d_cur, *reversed(buffer)]
            coeffs = _ipndm_v_coeffs(order, sigmas, i)
            x_next = x + (t_next - t_cur) * sum(c * d for c, d in zip(coeffs, history, strict=False))
        buffer = _push(buffer, d_cur, max_order)
        x = x_next
    return x


def _edm_to_vp_t(sigmas: Tensor, epsilon_s: float = 1e-3, sigma_min: float = 0.002,
                 sigma_max: float = 80.0) -> tuple[Tensor, Tensor, Tensor]:
    """sigma -> VP time t with EDM's default VP parameters; returns (t, beta_0, beta_1)."""
    log_min = torch.log(torch.tensor(sigma_min) ** 2 + 1)
    log_max = torch.log(torch.tensor(sigma_max) ** 2 + 1)
    beta_d = 2 * (log_min / epsilon_s - log_max) / (epsilon_s - 1)
    beta_min = log_max - 0.5 * beta_d
    t = ((beta_min**2 + 2 * beta_d * (sigmas.cpu() ** 2 + 1).log()).sqrt() - beta_min) / beta_d
    return t, beta_min, beta_d + beta_min


def _deis_integrand(beta_0: Tensor, beta_1: Tensor, taus: Tensor) -> Tensor:
    """d sigma / d tau for sigma(tau) = sqrt(1/alpha(tau) - 1), alpha = exp(-tau^2 (b1-b0)/2 - tau b0)."""
    alpha = torch.exp(-0.5 * taus**2 * (beta_1 - beta_0) - taus * beta_0)
    d_log_alpha = -taus * (beta_1 - beta_0) - beta_0
    return -0.5 * d_log_alpha / torch.sqrt(alpha * (1 - alpha))


def deis_coefficients(sigmas: Tensor, max_order: int, n: int = 10000) -> list[list[Tensor]]:
    """DEIS "tab" coefficients: ∫ (dsigma/dtau) L_j(tau) dtau by an n-point sum, per step."""
    t_steps, beta_0, beta_1 = _edm_to_vp_t(sigmas)
    table: list[list[Tensor]] = []
    for i, (t_cur, t_next) in enumerate(zip(t_steps[:-1], t_steps[1:], strict=True)):
        order = min(i + 1, max_order)
        if order == 1:
            table.append([])
            continue
        taus = torch.linspace(float(t_cur), float(t_next), n)
        dtau = (t_next - t_cur) / n
        prev_t = t_steps[[i - k for k in range(order)]]
        integrand = _deis_integrand(beta_0, beta_1, taus)
        coeffs = []
        for j in range(order):
            poly = torch.ones_like(taus)
            for k in range(order):
                if k != j:
                    poly = poly * (taus - prev_t[k]) / (prev_t[j] - prev_t[k])
            coeffs.append(torch.sum(integrand * poly) * dtau)
        table.append(coeffs)
    return table


def sample_deis(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                callback: Callback | None = None, max_order: int = 3) -> Tensor:
    """DEIS (Zhang & Chen 2022), tabulated coefficients, order up to 3."""
    s_in = ones_like_batch(x)
    coeff_list = deis_coefficients(sigmas, max_order)
    buffer: list[Tensor] = []
    for i in range(len(sigmas) - 1):
        t_cur, t_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, t_cur * s_in)
        notify(callback, x, i, t_cur, denoised)
        d_cur = (x - denoised) / t_cur
        order = 1 if t_next <= 0 else min(max_order, i + 1)
        if order == 1:
            x_next = x + (t_next - t_cur) * d_cur
        else:
            history = [d_cur, *reversed(buffer)]
            coeffs = [c.to(x.device) for c in coeff_list[i]]
            x_next = x + sum(c * d for c, d in zip(coeffs, history, strict=False))
        buffer = _push(buffer, d_cur, max_order)
        x = x_next
    return x
