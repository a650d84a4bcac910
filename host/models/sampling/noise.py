"""Noise as ComfyUI draws it (MODELS_FACTS.md §5): the initial latent noise from the seed on the CPU, the
per-step ancestral noise, and the Brownian-tree noise of the SDE samplers."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

NoiseSampler = Callable[[Tensor, Tensor], Tensor]
_SEED_MASK = 0xFFFF_FFFF_FFFF_FFFF


def cpu_generator(seed: int) -> torch.Generator:
    """A CPU generator in the state ``torch.manual_seed(seed)`` leaves the default one in."""
    return torch.Generator(device="cpu").manual_seed(seed & _SEED_MASK)


def prepare_noise(latent: Tensor, seed: int, batch_index: Sequence[int] | None = None) -> Tensor:
    """The initial noise for a latent: one CPU randn of its shape, or with ``batch_index`` one [1,C,H,W]
    draw per index 0..max, picked by index (so a batch item's noise does not depend on its neighbours)."""
    generator = cpu_generator(seed)
    if batch_index is None:
        return torch.randn(latent.shape, dtype=latent.dtype, generator=generator, device="cpu")
    wanted = sorted(set(int(i) for i in batch_index))
    draws: dict[int, Tensor] = {}
    for i in range(wanted[-1] + 1):
        noise = torch.randn([1, *latent.shape[1:]], dtype=latent.dtype, generator=generator, device="cpu")
        if i in wanted:
            draws[i] = noise
    return torch.cat([draws[int(i)] for i in batch_index], dim=0)


def default_noise_sampler(x: Tensor, seed: int | None = None) -> NoiseSampler:
    """Ancestral noise: one randn of x's shape per call from a generator on x's device, seeded seed+1 on
    the CPU (so it differs from the initial noise) and seed elsewhere, as ComfyUI seeds it."""
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed((seed + 1 if x.device.type == "cpu" else seed) & _SEED_MASK)

    def sample(sigma: Tensor, sigma_next: Tensor) -> Tensor:
        return torch.randn(x.shape, dtype=x.dtype, layout=x.layout, device=x.device, generator=generator)

    return sample


class BrownianTreeNoiseSampler:
    """Noise from a ``torchsde.BrownianTree`` over [sigma_min, sigma_max] seeded by ``seed`` (built on the
    CPU unless ``cpu=False``): each draw is the increment W(sigma_next) - W(sigma) over its std."""

    def __init__(self, x: Tensor, sigma_min: Tensor, sigma_max: Tensor, seed: int | None = None,
                 cpu: bool = True) -> None:
        import torchsde

        self.cpu = cpu
        t0, t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        t0, t1, self.sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w0 = torch.zeros_like(x)
        if cpu:
            t0, w0, t1 = t0.detach().cpu(), w0.detach().cpu(), t1.detach().cpu()
        entropy = seed if seed is not None else int(torch.randint(0, 2**63 - 1, ()).item())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tree = torchsde.BrownianTree(t0, w0, t1, entropy=entropy)

    def increment(self, t0: Tensor, t1: Tensor) -> Tensor:
        t0, t1, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        device, dtype = t0.device, t0.dtype
        if self.cpu:
            t0, t1 = t0.detach().cpu().float(), t1.detach().cpu().float()
        with warnings.catch_warnings():
            # torchsde warns when a query lands a rounding error outside [t0, t1]; ComfyUI runs on regardless
            warnings.simplefilter("ignore")
            w = self.tree(t0, t1)
        return w.to(device=device, dtype=dtype) * (self.sign * sign)

    def __call__(self, sigma: Tensor, sigma_next: Tensor) -> Tensor:
        t0, t1 = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        return self.increment(t0, t1) / (t1 - t0).abs().sqrt()


def brownian_noise_sampler(x: Tensor, sigmas: Tensor, seed: int | None, cpu: bool = True) -> NoiseSampler:
    """The SDE samplers' default: a Brownian tree spanning the positive sigmas of the schedule."""
    return BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=seed, cpu=cpu)
