"""DPM-Solver++ samplers (Lu et al. 2022) and their SDE variants, in log-SNR time lambda = -log sigma
(these are variance-exploding models, so alpha = 1 throughout)."""

from __future__ import annotations

from torch import Tensor

from .denoiser import Callback, Denoiser, get_ancestral_step, notify, ones_like_batch, to_d
from .noise import NoiseSampler, brownian_noise_sampler, default_noise_sampler


def _seed(extra_args: dict | None) -> int | None:
    return (extra_args or {}).get("seed")


def _lam(sigma: Tensor) -> Tensor:
    return sigma.log().neg()


def _sig(lam: Tensor) -> Tensor:
    return lam.neg().exp()


def _dpmpp_2s_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None,
                        callback: Callback | None, eta: float, s_noise: float,
                        noise_sampler: NoiseSampler | None, cfg_pp: bool) -> Tensor:
    noise_sampler = noise_sampler or default_noise_sampler(x, seed=_seed(extra_args))
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in) if cfg_pp else (model(x, sigmas[i] * s_in), None)
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        notify(callback, x, i, sigmas[i], denoised)
        if sigma_down == 0:
            if uncond is not None:
                x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
            else:
                x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = _lam(sigmas[i]), _lam(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_in = x + (denoised - uncond) if uncond is not None else x
            x_2 = (_sig(s) / _sig(t)) * x_in - (-h / 2).expm1() * denoised
            denoised_2 = model(x_2, _sig(s) * s_in)
            x = (_sig(t_next) / _sig(t)) * x_in - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_dpmpp_2s_ancestral(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                              callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                              noise_sampler: NoiseSampler | None = None) -> Tensor:
    """Ancestral sampling with DPM-Solver++(2S) second-order steps."""
    return _dpmpp_2s_ancestral(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, cfg_pp=False)


def sample_dpmpp_2s_ancestral_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                     callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                                     noise_sampler: NoiseSampler | None = None) -> Tensor:
    """DPM-Solver++(2S) ancestral with CFG++ steps."""
    return _dpmpp_2s_ancestral(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, cfg_pp=True)


def _dpmpp_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None, callback: Callback | None,
               eta: float, s_noise: float, noise_sampler: NoiseSampler | None, r: float, cpu: bool) -> Tensor:
    if len(sigmas) <= 1:
        return x
    noise_sampler = noise_sampler or brownian_noise_sampler(x, sigmas, _seed(extra_args), cpu=cpu)
    s_in = ones_like_batch(x)
    fac = 1 / (2 * r)
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lambda_s, lambda_t = _lam(sigmas[i]), _lam(sigmas[i + 1])
        lambda_s_1 = lambda_s + r * (lambda_t - lambda_s)
        sigma_s_1 = _sig(lambda_s_1)
        sd, su = get_ancestral_step(sigmas[i], sigma_s_1, eta)
        h_ = _lam(sd) - lambda_s
        x_2 = (-h_).exp() * x - (-h_).expm1() * denoised
        if eta > 0 and s_noise > 0:
            x_2 = x_2 + noise_sampler(sigmas[i], sigma_s_1) * s_noise * su
        denoised_2 = model(x_2, sigma_s_1 * s_in)
        sd, su = get_ancestral_step(sigmas[i], sigmas[i + 1], eta)
        h_ = _lam(sd) - lambda_s
        denoised_d = (1 - fac) * denoised + fac * denoised_2
        x = (-h_).exp() * x - (-h_).expm1() * denoised_d
        if eta > 0 and s_noise > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * su
    return x


def sample_dpmpp_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                     callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                     noise_sampler: NoiseSampler | None = None, r: float = 1 / 2) -> Tensor:
    """DPM-Solver++ (stochastic, two stages per step), Brownian-tree noise built on the CPU."""
    return _dpmpp_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, r, cpu=True)


def sample_dpmpp_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                         callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                         noise_sampler: NoiseSampler | None = None, r: float = 1 / 2) -> Tensor:
    """dpmpp_sde with the Brownian tree on x's device."""
    return _dpmpp_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, r, cpu=False)


def sample_dpmpp_2m(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                    callback: Callback | None = None) -> Tensor:
    """DPM-Solver++(2M), multistep second order."""
    s_in = ones_like_batch(x)
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        t, t_next = _lam(sigmas[i]), _lam(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            denoised_d = denoised
        else:
            r = (t - _lam(sigmas[i - 1])) / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        x = (_sig(t_next) / _sig(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def sample_dpmpp_2m_cfg_pp(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                           callback: Callback | None = None) -> Tensor:
    """DPM-Solver++(2M) with CFG++ steps."""
    s_in = ones_like_batch(x)
    old_uncond = None
    for i in range(len(sigmas) - 1):
        denoised, uncond = model.with_uncond(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        t, t_next = _lam(sigmas[i]), _lam(sigmas[i + 1])
        h = t_next - t
        mix = -(-h).exp() * uncond
        if old_uncond is not None and sigmas[i + 1] != 0:
            r = (t - _lam(sigmas[i - 1])) / h
            mix = mix - (-h).expm1() * (1 / (2 * r)) * (denoised - old_uncond)
        x = denoised + mix + (-h).exp() * x
        old_uncond = uncond
    return x


def _dpmpp_2m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None, callback: Callback | None,
                  eta: float, s_noise: float, noise_sampler: NoiseSampler | None, solver_type: str,
                  cpu: bool) -> Tensor:
    if len(sigmas) <= 1:
        return x
    if solver_type not in {"heun", "midpoint"}:
        raise ValueError("solver_type must be 'heun' or 'midpoint'")
    noise_sampler = noise_sampler or brownian_noise_sampler(x, sigmas, _seed(extra_args), cpu=cpu)
    s_in = ones_like_batch(x)
    old_denoised, h, h_last = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
            h_eta = h * (eta + 1)
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + (-h_eta).expm1().neg() * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == "heun":
                    x = x + ((-h_eta).expm1().neg() / (-h_eta) + 1) * (1 / r) * (denoised - old_denoised)
                else:
                    x = x + 0.5 * (-h_eta).expm1().neg() * (1 / r) * (denoised - old_denoised)
            if eta > 0 and s_noise > 0:
                noise = noise_sampler(sigmas[i], sigmas[i + 1])
                x = x + noise * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        old_denoised = denoised
        h_last = h
    return x


def sample_dpmpp_2m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                        callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                        noise_sampler: NoiseSampler | None = None, solver_type: str = "midpoint") -> Tensor:
    """DPM-Solver++(2M) SDE (midpoint), Brownian-tree noise built on the CPU."""
    return _dpmpp_2m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, solver_type, True)


def sample_dpmpp_2m_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                            callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                            noise_sampler: NoiseSampler | None = None, solver_type: str = "midpoint") -> Tensor:
    """dpmpp_2m_sde with the Brownian tree on x's device."""
    return _dpmpp_2m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, solver_type, False)


def sample_dpmpp_2m_sde_heun(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                             callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                             noise_sampler: NoiseSampler | None = None) -> Tensor:
    """DPM-Solver++(2M) SDE with the Heun-type correction."""
    return _dpmpp_2m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, "heun", True)


def sample_dpmpp_2m_sde_heun_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                                 callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                                 noise_sampler: NoiseSampler | None = None) -> Tensor:
    """dpmpp_2m_sde_heun with the Brownian tree on x's device."""
    return _dpmpp_2m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, "heun", False)


def _dpmpp_3m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None, callback: Callback | None,
                  eta: float, s_noise: float, noise_sampler: NoiseSampler | None, cpu: bool) -> Tensor:
    if len(sigmas) <= 1:
        return x
    noise_sampler = noise_sampler or brownian_noise_sampler(x, sigmas, _seed(extra_args), cpu=cpu)
    s_in = ones_like_batch(x)
    denoised_1, denoised_2 = None, None
    h, h_1, h_2 = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        notify(callback, x, i, sigmas[i], denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
            h_eta = h * (eta + 1)
            x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x + (-h_eta).expm1().neg() * denoised
            phi_2 = h_eta.neg().expm1() / h_eta + 1
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                x = x + phi_2 * (denoised - denoised_1) / (h_1 / h)
            if eta > 0 and s_noise > 0:
                noise = noise_sampler(sigmas[i], sigmas[i + 1])
                x = x + noise * sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


def sample_dpmpp_3m_sde(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                        callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                        noise_sampler: NoiseSampler | None = None) -> Tensor:
    """DPM-Solver++(3M) SDE, Brownian-tree noise built on the CPU."""
    return _dpmpp_3m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, cpu=True)


def sample_dpmpp_3m_sde_gpu(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                            callback: Callback | None = None, eta: float = 1.0, s_noise: float = 1.0,
                            noise_sampler: NoiseSampler | None = None) -> Tensor:
    """dpmpp_3m_sde with the Brownian tree on x's device."""
    return _dpmpp_3m_sde(model, x, sigmas, extra_args, callback, eta, s_noise, noise_sampler, cpu=False)
