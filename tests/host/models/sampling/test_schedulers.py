"""Sigma tables against ComfyUI 0.8.0's SD1.5 reference (../shared/data/sd15_sigmas_reference.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from host.models.sampling import (
    SCHEDULER_NAMES,
    ModelSampling,
    UnknownScheduler,
    calculate_sigmas,
    ksampler_sigmas,
)

REFERENCE = Path(__file__).resolve().parents[5] / "shared" / "data" / "sd15_sigmas_reference.json"
# the reference is committed beside this checkout in CI; a copy of its names keeps the order test local
COMFY_SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
                    "linear_quadratic", "kl_optimal"]


def load_reference() -> dict:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} not beside the checkout")
    return json.loads(REFERENCE.read_text())


def reference_keys() -> list[str]:
    return list(json.loads(REFERENCE.read_text())["schedules"]) if REFERENCE.is_file() else []


@pytest.fixture(scope="module")
def sd15() -> ModelSampling:
    return ModelSampling.discrete("eps")


def test_scheduler_names_in_comfy_order() -> None:
    assert list(SCHEDULER_NAMES) == COMFY_SCHEDULERS


def test_scheduler_names_match_reference() -> None:
    assert list(SCHEDULER_NAMES) == load_reference()["schedulers"]


def test_model_sampling_endpoints(sd15: ModelSampling) -> None:
    ref = load_reference()["model_sampling"]
    assert float(sd15.sigma_min) == pytest.approx(ref["sigma_min"], abs=1e-7)
    assert float(sd15.sigma_max) == pytest.approx(ref["sigma_max"], abs=1e-6)
    assert sd15.sigmas.dtype == torch.float32 and len(sd15.sigmas) == 1000


@pytest.mark.parametrize("key", reference_keys() or ["missing"])
def test_sigmas_equal_reference(sd15: ModelSampling, key: str) -> None:
    expected = load_reference()["schedules"][key]
    name, steps, *rest = key.split("/")
    denoise = float(rest[0].removeprefix("denoise")) if rest else 1.0
    got = ksampler_sigmas(sd15, name, "euler", int(steps), denoise)
    assert got.dtype == torch.float32
    assert len(got) == len(expected), (got.tolist(), expected)
    for g, e in zip(got.tolist(), expected, strict=True):
        assert (math.isnan(g) and math.isnan(e)) or abs(g - e) <= 1e-6, (key, got.tolist(), expected)


def test_timestep_roundtrip(sd15: ModelSampling) -> None:
    t = torch.tensor([0.0, 1.0, 500.0, 999.0])
    assert torch.equal(sd15.timestep(sd15.sigma(t)), t.long())
    assert float(sd15.sigma(torch.tensor(-5.0))) == pytest.approx(float(sd15.sigma_min), rel=1e-6)
    assert sd15.percent_to_sigma(0.0) == 999999999.9 and sd15.percent_to_sigma(1.0) == 0.0
    assert sd15.percent_to_sigma(0.5) == pytest.approx(float(sd15.sigma(torch.tensor(499.5))))


def test_discard_penultimate_and_denoise_zero(sd15: ModelSampling) -> None:
    plain = calculate_sigmas(sd15, "karras", 5)
    dpm2 = ksampler_sigmas(sd15, "karras", "dpm_2", 4)
    assert torch.equal(dpm2, torch.cat([plain[:-2], plain[-1:]]))
    assert len(ksampler_sigmas(sd15, "normal", "euler", 10, 0.0)) == 0
    assert len(ksampler_sigmas(sd15, "ddim_uniform", "euler", 30)) == 32  # 31 steps, as ComfyUI


def test_v_prediction_parameterisation() -> None:
    ms = ModelSampling.discrete("v")
    x, out, sigma = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3), torch.tensor([2.0, 0.5])
    s = sigma.view(2, 1, 1, 1)
    assert torch.allclose(ms.calculate_denoised(sigma, out, x), x / (s**2 + 1) - out * s / (s**2 + 1) ** 0.5)
    eps = ModelSampling.discrete("eps")
    assert torch.allclose(eps.calculate_denoised(sigma, out, x), x - out * s)
    assert torch.allclose(eps.calculate_input(sigma, x), x / (s**2 + 1) ** 0.5)


def test_unknown_scheduler(sd15: ModelSampling) -> None:
    with pytest.raises(UnknownScheduler, match="bogus"):
        calculate_sigmas(sd15, "bogus", 4)


def test_names_import_without_torch_and_match_tables() -> None:
    import subprocess
    import sys

    code = "import sys; from host.models.sampling import SAMPLER_NAMES, SCHEDULER_NAMES; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
    from host.models.sampling import SAMPLER_NAMES, SAMPLERS, SCHEDULERS

    assert tuple(SCHEDULERS) == SCHEDULER_NAMES and set(SAMPLERS) == set(SAMPLER_NAMES)
