"""DPM-Solver (Lu et al. 2022) in eps prediction: the fixed-NFE "fast" schedule and the adaptive step-size
solver, with sigma_min/sigma_max taken from the schedule as ComfyUI's dpm_fast/dpm_adaptive do."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .denoiser import Callback, Denoiser, get_ancestral_step
from .noise import NoiseSampler, default_noise_sampler

EpsCache = dict[str, Tensor]


class PIDStepSizeController:
    """A PID step-size controller (Söderlind 2003) with an arctan limiter."""

    def __init__(self, h: float, pcoeff: float, icoeff: float, dcoeff: float, order: float = 1,
                 accept_safety: float = 0.81, eps: float = 1e-8) -> None:
        self.h = h
        self.b1 = (pcoeff + icoeff + dcoeff) / order
        self.b2 = -(pcoeff + 2 * dcoeff) / order
        self.b3 = dcoeff / order
        self.accept_safety = accept_safety
        self.eps = eps
        self.errs: list[float] = []

    def propose_step(self, error: Tensor) -> bool:
        inv_error = 1 / (float(error) + self.eps)
        if not self.errs:
            self.errs = [inv_error, inv_error, inv_error]
        self.errs[0] = inv_error
        factor = self.errs[0] ** self.b1 * self.errs[1] ** self.b2 * self.errs[2] ** self.b3
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2], self.errs[1] = self.errs[1], self.errs[0]
        self.h *= factor
        return accept


class DPMSolver:
    """DPM-Solver-1/2/3 steps in t = -log sigma over a denoiser."""

    def __init__(self, model: Denoiser, seed: int | None, callback: Callback | None) -> None:
        self.model, self.seed, self.callback = model, seed, callback

    @staticmethod
    def t(sigma: Tensor) -> Tensor:
        return -sigma.log()

    @staticmethod
    def sigma(t: Tensor) -> Tensor:
        return t.neg().exp()

    def eps(self, cache: EpsCache, key: str, x: Tensor, t: Tensor) -> tuple[Tensor, EpsCache]:
        if key in cache:
            return cache[key], cache
        sigma = self.sigma(t) * x.new_ones([x.shape[0]])
        eps = (x - self.model(x, sigma)) / self.sigma(t)
        return eps, {key: eps, **cache}

    def step_1(self, x: Tensor, t: Tensor, t_next: Tensor, cache: EpsCache) -> tuple[Tensor, EpsCache]:
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        return x - self.sigma(t_next) * h.expm1() * eps, cache

    def step_2(self, x: Tensor, t: Tensor, t_next: Tensor, cache: EpsCache,
               r1: float = 1 / 2) -> tuple[Tensor, EpsCache]:
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        s1 = t + r1 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, cache = self.eps(cache, "eps_r1", u1, s1)
        x_2 = x - self.sigma(t_next) * h.expm1() * eps - self.sigma(t_next) / (2 * r1) * h.expm1() * (eps_r1 - eps)
        return x_2, cache

    def step_3(self, x: Tensor, t: Tensor, t_next: Tensor, cache: EpsCache, r1: float = 1 / 3,
               r2: float = 2 / 3) -> tuple[Tensor, EpsCache]:
        h = t_next - t
        eps, cache = self.eps(cache, "eps", x, t)
        s1, s2 = t + r1 * h, t + r2 * h
        u1 = x - self.sigma(s1) * (r1 * h).expm1() * eps
        eps_r1, cache = self.eps(cache, "eps_r1", u1, s1)
        u2 = (x - self.sigma(s2) * (r2 * h).expm1() * eps
              - self.sigma(s2) * (r2 / r1) * ((r2 * h).expm1() / (r2 * h) - 1) * (eps_r1 - eps))
        eps_r2, cache = self.eps(cache, "eps_r2", u2, s2)
        x_3 = x - self.sigma(t_next) * h.expm1() * eps - self.sigma(t_next) / r2 * (h.expm1() / h - 1) * (eps_r2 - eps)
        return x_3, cache

    def step(self, order: int, x: Tensor, t: Tensor, t_next: Tensor, cache: EpsCache) -> tuple[Tensor, EpsCache]:
        return (self.step_1, self.step_2, self.step_3)[order - 1](x, t, t_next, cache)

    def report(self, x: Tensor, i: int, t: Tensor, denoised: Tensor) -> None:
        if self.callback is not None:
            self.callback({"x": x, "i": i, "sigma": self.sigma(t), "sigma_hat": self.sigma(t), "denoised": denoised})

    def fast(self, x: Tensor, t_start: Tensor, t_end: Tensor, nfe: int, eta: float = 0.0, s_noise: float = 1.0,
             noise_sampler: NoiseSampler | None = None) -> Tensor:
        noise_sampler = noise_sampler or default_noise_sampler(x, seed=self.seed)
        m = math.floor(nfe / 3) + 1
        ts = torch.linspace(float(t_start), float(t_end), m + 1, device=x.device)
        orders = [3] * (m - 2) + [2, 1] if nfe % 3 == 0 else [3] * (m - 1) + [nfe % 3]
        for i, order in enumerate(orders):
            t, t_next = ts[i], ts[i + 1]
            t_next_, su = t_next, 0.0
            if eta:
                sd, _ = get_ancestral_step(self.sigma(t), self.sigma(t_next), eta)
                t_next_ = torch.minimum(t_end, self.t(sd))
                su = (self.sigma(t_next) ** 2 - self.sigma(t_next_) ** 2) ** 0.5
            eps, cache = self.eps({}, "eps", x, t)
            self.report(x, i, t, x - self.sigma(t) * eps)
            x, cache = self.step(order, x, t, t_next_, cache)
            x = x + su * s_noise * noise_sampler(self.sigma(t), self.sigma(t_next))
        return x

    def adaptive(self, x: Tensor, t_start: Tensor, t_end: Tensor, order: int = 3, rtol: float = 0.05,
                 atol: float = 0.0078, h_init: float = 0.05, pcoeff: float = 0.0, icoeff: float = 1.0,
                 dcoeff: float = 0.0, accept_safety: float = 0.81, eta: float = 0.0, s_noise: float = 1.0,
                 noise_sampler: NoiseSampler | None = None) -> Tensor:
        noise_sampler = noise_sampler or default_noise_sampler(x, seed=self.seed)
        if order not in {2, 3}:
            raise ValueError("order should be 2 or 3")
        forward = t_end > t_start
        h_init = abs(h_init) * (1 if forward else -1)
        atol_t, rtol_t = torch.tensor(atol), torch.tensor(rtol)
        s, x_prev, steps = t_start, x, 0
        pid = PIDStepSizeController(h_init, pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
        while s < t_end - 1e-5 if forward else s > t_end + 1e-5:
            t = torch.minimum(t_end, s + pid.h) if forward else torch.maximum(t_end, s + pid.h)
            t_, su = t, 0.0
            if eta:
                sd, _ = get_ancestral_step(self.sigma(s), self.sigma(t), eta)
                t_ = torch.minimum(t_end, self.t(sd))
                su = (self.sigma(t) ** 2 - self.sigma(t_) ** 2) ** 0.5
            eps, cache = self.eps({}, "eps", x, s)
            denoised = x - self.sigma(s) * eps
            if order == 2:
                x_low, cache = self.step_1(x, s, t_, cache)
                x_high, cache = self.step_2(x, s, t_, cache)
            else:
                x_low, cache = self.step_2(x, s, t_, cache, r1=1 / 3)
                x_high, cache = self.step_3(x, s, t_, cache)
            delta = torch.maximum(atol_t.to(x.device), rtol_t.to(x.device) * torch.maximum(x_low.abs(), x_prev.abs()))
            error = torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5
            if pid.propose_step(error):
                x_prev = x_low
                x = x_high + su * s_noise * noise_sampler(self.sigma(s), self.sigma(t))
                s = t
            steps += 1
            self.report(x, steps - 1, s, denoised)
        return x


def _sigma_range(sigmas: Tensor) -> tuple[Tensor, Tensor]:
    sigma_min = sigmas[-1] if sigmas[-1] != 0 else sigmas[-2]
    return sigma_min, sigmas[0]


def sample_dpm_fast(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                    callback: Callback | None = None, eta: float = 0.0, s_noise: float = 1.0,
                    noise_sampler: NoiseSampler | None = None) -> Tensor:
    """DPM-Solver-fast: len(sigmas)-1 evaluations from sigmas[0] to the last positive sigma."""
    if len(sigmas) <= 1:
        return x
    sigma_min, sigma_max = _sigma_range(sigmas)
    solver = DPMSolver(model, (extra_args or {}).get("seed"), callback)
    return solver.fast(x, solver.t(sigma_max), solver.t(sigma_min), len(sigmas) - 1, eta, s_noise, noise_sampler)


def sample_dpm_adaptive(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                        callback: Callback | None = None, order: int = 3, rtol: float = 0.05, atol: float = 0.0078,
                        h_init: float = 0.05, eta: float = 0.0, s_noise: float = 1.0,
                        noise_sampler: NoiseSampler | None = None, pcoeff: float = 0.0, icoeff: float = 1.0,
                        dcoeff: float = 0.0, accept_safety: float = 0.81) -> Tensor:
    """DPM-Solver-12/23 with adaptive step size (the schedule only gives its ends); pcoeff/icoeff/dcoeff and
    accept_safety tune the PID step-size controller."""
    if len(sigmas) <= 1:
        return x
    sigma_min, sigma_max = _sigma_range(sigmas)
    solver = DPMSolver(model, (extra_args or {}).get("seed"), callback)
    return solver.adaptive(x, solver.t(sigma_max), solver.t(sigma_min), order, rtol, atol, h_init, pcoeff, icoeff,
                           dcoeff, accept_safety, eta=eta, s_noise=s_noise, noise_sampler=noise_sampler)
