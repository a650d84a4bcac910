"""Every sampler in the table over a small real denoiser, and over an analytic one whose exact answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from host.models.sampling import (
    SAMPLER_NAMES,
    SAMPLERS,
    ModelSampling,
    PlainDenoiser,
    SamplerNotImplemented,
    UnknownSampler,
    ksampler_sigmas,
    run_sampler,
    sampler_function,
)

OBJECT_INFO = Path(__file__).resolve().parents[5] / "shared" / "data" / "comfyui_object_info_core.json"
STOCHASTIC = {"euler_ancestral", "euler_ancestral_cfg_pp", "exp_heun_2_x0_sde", "dpm_2_ancestral",
              "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m_sde",
              "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu",
              "ddpm", "lcm", "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "er_sde", "seeds_2",
              "seeds_3", "sa_solver", "sa_solver_pece"}
REQUIRED = ["euler", "euler_ancestral", "heun", "heunpp2", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast",
            "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm",
            "lcm", "ipndm", "deis", "ddim", "uni_pc", "uni_pc_bh2", "euler_cfg_pp", "res_multistep"]


class TinyEps(nn.Module):
    """A small real eps-prediction network with the UNet's call shape."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.t = nn.Linear(1, 4)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x) + self.t(timesteps[:, None].float() / 1000)[:, :, None, None])


@pytest.fixture(scope="module")
def ms() -> ModelSampling:
    return ModelSampling.discrete("eps")


@pytest.fixture(scope="module")
def denoiser(ms: ModelSampling) -> PlainDenoiser:
    net = TinyEps().eval()

    def fn(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = net(ms.calculate_input(sigma, x), ms.timestep(sigma).float())
        return ms.calculate_denoised(sigma, out, x)

    return PlainDenoiser(fn)


def gaussian_denoiser(s: float) -> PlainDenoiser:
    """The exact D for data ~ N(0, s^2): D(x; sigma) = x s^2 / (s^2 + sigma^2)."""
    return PlainDenoiser(lambda x, sigma: x * s**2 / (s**2 + sigma.view(-1, 1, 1, 1) ** 2))


def run(name: str, model, ms: ModelSampling, steps: int, seed: int, shape=(1, 4, 8, 8), scheduler="karras"):
    sigmas = ksampler_sigmas(ms, scheduler, name, steps)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * torch.sqrt(1 + sigmas[0] ** 2)
    return run_sampler(name, model, x, sigmas, seed=seed)


def test_names_are_comfy_combo_order() -> None:
    if not OBJECT_INFO.is_file():
        pytest.skip("object_info reference not beside the checkout")
    combo = json.loads(OBJECT_INFO.read_text())["KSampler"]["input"]["required"]["sampler_name"][0]
    assert list(SAMPLER_NAMES) == combo
    assert set(REQUIRED) <= set(SAMPLERS)


def test_unknown_and_unimplemented_names_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownSampler, match="nope"):
        sampler_function("nope")
    assert set(SAMPLERS) == set(SAMPLER_NAMES)  # every combo name is implemented
    saved = dict(SAMPLERS)
    del SAMPLERS["sa_solver"]  # a combo name without a function is never run as another
    try:
        with pytest.raises(SamplerNotImplemented, match="sa_solver"):
            sampler_function("sa_solver")
    finally:
        SAMPLERS.clear()
        SAMPLERS.update(saved)  # in the table's order (monkeypatch would put it back last)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_runs_finite_and_seeded(name: str, denoiser: PlainDenoiser, ms: ModelSampling) -> None:
    steps = []
    sigmas = ksampler_sigmas(ms, "karras", name, 3)
    x = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(1)) * torch.sqrt(1 + sigmas[0] ** 2)
    a = sampler_function(name)(denoiser, x, sigmas, extra_args={"seed": 1}, callback=steps.append)
    assert a.shape == x.shape and torch.isfinite(a).all()
    assert steps and all(set(p) >= {"x", "i", "denoised"} for p in steps)
    b = run(name, denoiser, ms, 3, seed=1)
    assert torch.equal(a, b)
    if name in STOCHASTIC:
        other = sampler_function(name)(denoiser, x, sigmas, extra_args={"seed": 2})
        assert not torch.allclose(a, other)


def test_euler_matches_hand_computation(ms: ModelSampling) -> None:
    s = 0.5
    sigmas = torch.tensor([14.0, 5.0, 1.0, 0.2, 0.0])
    x0 = torch.full((1, 4, 2, 2), 3.0)
    out = run_sampler("euler", gaussian_denoiser(s), x0, sigmas)
    expected = 3.0
    for sig, nxt in zip(sigmas[:-1].tolist(), sigmas[1:].tolist(), strict=True):
        expected *= 1 + sig / (s**2 + sig**2) * (nxt - sig)  # x + (x - D)/sigma * dt with D = x s²/(s²+σ²)
    assert torch.allclose(out, torch.full_like(out, expected), rtol=1e-5)


FIRST_ORDER = {"euler", "ddim", "euler_cfg_pp", "heunpp2", "gradient_estimation", "gradient_estimation_cfg_pp"}
DETERMINISTIC = sorted(set(SAMPLERS) - STOCHASTIC - {"dpm_fast", "dpm_adaptive"})


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_samplers_solve_the_ode(name: str, ms: ModelSampling) -> None:
    """For N(0, s^2) data the probability-flow ODE maps x_T to x_T * s / sqrt(s^2 + sigma_T^2) exactly."""
    s = 0.5
    sigmas = ksampler_sigmas(ms, "karras", name, 24)
    x = torch.ones((1, 1, 2, 2)) * torch.sqrt(s**2 + sigmas[0] ** 2)
    out = run_sampler(name, gaussian_denoiser(s), x, sigmas)
    rtol = 0.1 if name in FIRST_ORDER else 0.03  # euler's error at 24 karras steps is 7%
    assert torch.allclose(out, torch.full_like(out, s), rtol=rtol), float(out.mean())


@pytest.mark.parametrize("name", ["dpm_fast", "dpm_adaptive"])
def test_dpm_solver_reaches_sigma_min(name: str, ms: ModelSampling) -> None:
    s = 0.5
    sigmas = ksampler_sigmas(ms, "karras", name, 24)
    x = torch.ones((1, 1, 2, 2)) * torch.sqrt(s**2 + sigmas[0] ** 2)
    out = run_sampler(name, gaussian_denoiser(s), x, sigmas)
    expected = (s**2 + float(sigmas[-2]) ** 2) ** 0.5  # they stop at the last positive sigma
    assert torch.allclose(out, torch.full_like(out, expected), rtol=0.03), float(out.mean())


@pytest.mark.parametrize("name", sorted(STOCHASTIC & set(SAMPLERS) - {"lcm"}))
def test_stochastic_samplers_sample_the_data_distribution(name: str, ms: ModelSampling) -> None:
    """From pure noise, a stochastic sampler on N(0, s^2) data ends with std ≈ s (within 20% at 24 steps;
    each converges to s as the steps grow). lcm is left out: on a model that is not a consistency model it
    returns posterior means, which are under-dispersed by design."""
    s = 0.5
    sigmas = ksampler_sigmas(ms, "karras", name, 24)
    x = torch.randn((1, 4, 32, 32), generator=torch.Generator().manual_seed(3)) * torch.sqrt(1 + sigmas[0] ** 2)
    out = run_sampler(name, gaussian_denoiser(s), x, sigmas, seed=3)
    assert float(out.std()) == pytest.approx(s, rel=0.2)
