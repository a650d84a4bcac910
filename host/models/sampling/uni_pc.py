"""UniPC (Zhao et al. 2023): unified predictor-corrector, data prediction, multistep, B(h)=h (bh1) or
expm1(h) (bh2), run in the variance-preserving frame as ComfyUI's ``sample_unipc`` runs it."""

from __future__ import annotations

import torch
from torch import Tensor

from .denoiser import Callback, Denoiser


def _log_alpha(sigma: Tensor) -> Tensor:
    return 0.5 * torch.log(1 / (sigma * sigma + 1))


def _alpha(sigma: Tensor) -> Tensor:
    return torch.exp(_log_alpha(sigma))


def _std(sigma: Tensor) -> Tensor:
    return torch.sqrt(1.0 - torch.exp(2.0 * _log_alpha(sigma)))


def _lambda(sigma: Tensor) -> Tensor:
    log_mean = _log_alpha(sigma)
    return log_mean - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_mean))


def _b4(t: Tensor) -> Tensor:
    return t[:, None, None, None] if t.ndim == 1 else t


class UniPC:
    """The multistep UniPC-bh update over x0 predictions in VP space."""

    def __init__(self, model: Denoiser, variant: str) -> None:
        self.model, self.variant = model, variant

    def data_prediction(self, x: Tensor, t: Tensor) -> Tensor:
        """x0 from the VP-space x at sigma t (through the eps the denoiser implies)."""
        sigma = t.view(t.shape[:1] + (1,) * (x.ndim - 1))
        x_ve = x * ((sigma**2 + 1.0) ** 0.5)
        eps = (x_ve - self.model(x_ve, t)) / sigma
        return (x - _b4(_std(t)) * eps) / _b4(_alpha(t))

    def update(self, x: Tensor, model_prev: list[Tensor], t_prev: list[Tensor], t: Tensor, order: int,
               use_corrector: bool) -> tuple[Tensor, Tensor | None]:
        t_prev_0, model_prev_0 = t_prev[-1], model_prev[-1]
        lambda_prev_0, lambda_t = _lambda(t_prev_0), _lambda(t)
        sigma_prev_0, sigma_t = _std(t_prev_0), _std(t)
        alpha_t = torch.exp(_log_alpha(t))
        h = lambda_t - lambda_prev_0
        rks, d1s = [], []
        for i in range(1, order):
            rk = ((_lambda(t_prev[-(i + 1)]) - lambda_prev_0) / h)[0]
            rks.append(rk)
            d1s.append((model_prev[-(i + 1)] - model_prev_0) / rk)
        rks.append(torch.tensor(1.0, device=x.device))
        rks_t = torch.stack([torch.as_tensor(r, device=x.device, dtype=x.dtype) for r in rks])
        hh = -h[0]
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        factorial_i = 1
        b_h = hh if self.variant == "bh1" else torch.expm1(hh)
        rows, b = [], []
        for i in range(1, order + 1):
            rows.append(torch.pow(rks_t, i - 1))
            b.append(h_phi_k * factorial_i / b_h)
            factorial_i *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial_i
        r_mat, b_vec = torch.stack(rows), torch.stack(b)
        d1s_t = torch.stack(d1s, dim=1) if d1s else None
        rhos_p = None
        if d1s_t is not None:
            rhos_p = (torch.tensor([0.5], device=x.device) if order == 2
                      else torch.linalg.solve(r_mat[:-1, :-1], b_vec[:-1]))
        rhos_c = None
        if use_corrector:
            rhos_c = torch.tensor([0.5], device=x.device) if order == 1 else torch.linalg.solve(r_mat, b_vec)
        x_t_ = _b4(sigma_t / sigma_prev_0) * x - _b4(alpha_t * h_phi_1) * model_prev_0
        pred_res = torch.einsum("k,bkchw->bchw", rhos_p, d1s_t) if rhos_p is not None else 0
        x_t = x_t_ - _b4(alpha_t * b_h) * pred_res
        model_t = None
        if rhos_c is not None:
            model_t = self.data_prediction(x_t, t)
            corr_res = torch.einsum("k,bkchw->bchw", rhos_c[:-1], d1s_t) if d1s_t is not None else 0
            x_t = x_t_ - _b4(alpha_t * b_h) * (corr_res + rhos_c[-1] * (model_t - model_prev_0))
        return x_t, model_t


def _sample_unipc(model: Denoiser, x: Tensor, sigmas: Tensor, callback: Callback | None, variant: str) -> Tensor:
    timesteps = sigmas.clone()
    if timesteps[-1] == 0:
        timesteps[-1] = 0.001
    x = x / torch.sqrt(1.0 + timesteps[0] ** 2.0)
    steps = len(timesteps) - 1
    order = min(3, steps - 1)  # 0 for a single step: ComfyUI then only evaluates the model once
    solver = UniPC(model, variant)
    batch = x.shape[0]
    vec_t = timesteps[0].expand(batch)
    model_prev, t_prev = [solver.data_prediction(x, vec_t)], [vec_t]
    for step_index in range(steps):
        if step_index == 0:
            pass
        elif step_index < order:
            vec_t = timesteps[step_index].expand(batch)
            x, model_x = solver.update(x, model_prev, t_prev, vec_t, step_index, use_corrector=True)
            model_prev.append(model_x if model_x is not None else solver.data_prediction(x, vec_t))
            t_prev.append(vec_t)
        else:
            final = step_index + (1 if step_index == steps - 1 else 0)
            for step in range(step_index, final + 1):
                vec_t = timesteps[step].expand(batch)
                step_order = min(order, steps + 1 - step)
                x, model_x = solver.update(x, model_prev, t_prev, vec_t, step_order, use_corrector=step != steps)
                model_prev, t_prev = model_prev[1:] + model_prev[-1:], t_prev[1:] + [vec_t]
                if step < steps:
                    model_prev[-1] = model_x if model_x is not None else solver.data_prediction(x, vec_t)
        if callback is not None:
            callback({"x": x, "i": step_index, "sigma": sigmas[step_index], "sigma_hat": sigmas[step_index],
                      "denoised": model_prev[-1]})
    return x / _alpha(timesteps[-1])


def sample_uni_pc(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                  callback: Callback | None = None) -> Tensor:
    """UniPC-bh1."""
    return _sample_unipc(model, x, sigmas, callback, "bh1")


def sample_uni_pc_bh2(model: Denoiser, x: Tensor, sigmas: Tensor, extra_args: dict | None = None,
                      callback: Callback | None = None) -> Tensor:
    """UniPC-bh2."""
    return _sample_unipc(model, x, sigmas, callback, "bh2")
