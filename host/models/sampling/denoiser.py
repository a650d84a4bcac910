"""The one interface samplers see: a denoiser D(x; sigma) (k-diffusion's shape), plus the small helpers
(to_d, ancestral step) every sampler shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

Callback = Callable[[dict[str, Any]], None]


class Denoiser(Protocol):
    """``model(x, sigma)`` -> the denoised prediction D for x at noise level sigma (a [B] tensor).

    ``with_uncond`` returns (D, D_uncond): the guided prediction and the unguided (negative) one that the
    CFG++ samplers step with; a denoiser without guidance returns D twice."""

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor: ...

    def with_uncond(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]: ...


class PlainDenoiser:
    """A Denoiser over any callable ``fn(x, sigma) -> D`` (no guidance: D_uncond is D)."""

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.fn(x, sigma)

    def with_uncond(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        d = self.fn(x, sigma)
        return d, d


def append_dims(t: Tensor, ndim: int) -> Tensor:
    return t[(...,) + (None,) * (ndim - t.ndim)]


def to_d(x: Tensor, sigma: Tensor, denoised: Tensor) -> Tensor:
    """The Karras ODE derivative dx/dsigma = (x - D) / sigma."""
    return (x - denoised) / append_dims(sigma, x.ndim)


def get_ancestral_step(sigma_from: Tensor, sigma_to: Tensor, eta: float = 1.0) -> tuple[Tensor, Tensor]:
    """(sigma_down, sigma_up) for an ancestral step from sigma_from to sigma_to."""
    if not eta:
        return sigma_to, torch.zeros_like(sigma_to)
    sigma_up = torch.minimum(sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5)
    sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
    return sigma_down, sigma_up


def ones_like_batch(x: Tensor) -> Tensor:
    return x.new_ones([x.shape[0]])


def notify(callback: Callback | None, x: Tensor, i: int, sigma: Tensor, denoised: Tensor) -> None:
    """The per-step payload every sampler gives its callback."""
    if callback is not None:
        callback({"x": x, "i": i, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})
