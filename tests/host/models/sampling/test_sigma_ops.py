"""Parametric schedules and SIGMAS operations (host/models/sampling/sigma_ops.py) against their formulas and
ComfyUI 0.8.0's SD1.5 reference schedules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from host.models.sampling import SCHEDULER_NAMES, ModelSampling, ksampler_sigmas
from host.models.sampling import sigma_ops as ops
from host.models.sampling.errors import InvalidSigmas, WrongInputType
from host.models.sampling.schedulers import get_sigmas_exponential, get_sigmas_karras

REFERENCE = Path(__file__).resolve().parents[5] / "shared" / "data" / "sd15_sigmas_reference.json"


@pytest.fixture(scope="module")
def sd15() -> ModelSampling:
    return ModelSampling.discrete("eps")


@pytest.fixture(scope="module")
def reference() -> dict:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} not beside the checkout")
    return json.loads(REFERENCE.read_text())["schedules"]


def close(a: torch.Tensor, b: list[float] | torch.Tensor, tol: float = 1e-5) -> bool:
    b = torch.as_tensor(b, dtype=torch.float32)
    return a.shape == b.shape and torch.allclose(a.float(), b, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
@pytest.mark.parametrize("steps", [1, 4, 20])
def test_basic_scheduler_is_the_reference(sd15: ModelSampling, reference: dict, name: str, steps: int) -> None:
    out = ops.basic_scheduler(sd15, name, steps, 1.0)
    assert out.dtype == torch.float32 and close(out, reference[f"{name}/{steps}"])


@pytest.mark.parametrize("name", ["normal", "karras"])
def test_basic_scheduler_denoise_keeps_the_last_steps(sd15: ModelSampling, reference: dict, name: str) -> None:
    out = ops.basic_scheduler(sd15, name, 20, 0.6)
    assert close(out, reference[f"{name}/20/denoise0.6"])
    full = ops.basic_scheduler(sd15, name, int(20 / 0.6), 1.0)
    assert torch.equal(out, full[-21:])
    assert torch.equal(out, ksampler_sigmas(sd15, name, "euler", 20, 0.6))


def test_basic_scheduler_denoise_bounds(sd15: ModelSampling) -> None:
    assert ops.basic_scheduler(sd15, "normal", 10, 0.0).shape == (0,)
    out = ops.basic_scheduler(sd15, "karras", 10, 0.9)  # int(10 / 0.9) = 11 scheduled, the last 11 kept
    assert torch.equal(out, ops.basic_scheduler(sd15, "karras", 11, 1.0)[-11:])
    assert out[0] < sd15.sigma_max and out[-1] == 0


def test_karras_and_exponential_node_formulas(sd15: ModelSampling, reference: dict) -> None:
    lo, hi = float(sd15.sigma_min), float(sd15.sigma_max)
    assert close(get_sigmas_karras(20, lo, hi), reference["karras/20"])
    assert close(get_sigmas_exponential(20, lo, hi), reference["exponential/20"])
    rho3 = get_sigmas_karras(5, 0.1, 10.0, rho=3.0)
    ramp = torch.linspace(0, 1, 5)
    assert close(rho3[:-1], (10.0 ** (1 / 3) + ramp * (0.1 ** (1 / 3) - 10.0 ** (1 / 3))) ** 3)


def test_polyexponential(reference: dict) -> None:
    # rho 1 is the exponential schedule
    assert close(ops.get_sigmas_polyexponential(20, 0.0291675, 14.614642),
                 get_sigmas_exponential(20, 0.0291675, 14.614642))
    out = ops.get_sigmas_polyexponential(4, 0.1, 10.0, rho=2.0)
    ramp = torch.linspace(1, 0, 4) ** 2
    assert close(out, [*(math.exp(float(r) * (math.log(10) - math.log(0.1)) + math.log(0.1)) for r in ramp), 0.0])


def test_laplace() -> None:
    out = ops.get_sigmas_laplace(5, 0.0291675, 14.614642, mu=0.0, beta=0.5)
    assert out[-1] == 0 and len(out) == 6
    expected = []
    for x in torch.linspace(0, 1, 5).tolist():
        x = min(max(x, 1e-5), 1 - 1e-5)
        lmb = -0.5 * math.copysign(1.0, 0.5 - x) * math.log(1 - 2 * abs(0.5 - x) + 1e-5) if x != 0.5 else 0.0
        expected.append(min(max(math.exp(lmb), 0.0291675), 14.614642))
    assert close(out[:-1], expected, tol=1e-4)
    assert torch.all(out[:-2] >= out[1:-1])  # non-increasing


def test_vp() -> None:
    out = ops.get_sigmas_vp(4, 19.9, 0.1, 0.001)
    t = [1.0, 1 - 0.999 / 3, 1 - 2 * 0.999 / 3, 0.001]
    assert close(out, [*(math.sqrt(math.exp(19.9 * v * v / 2 + 0.1 * v) - 1) for v in t), 0.0], tol=1e-4)


def test_sd_turbo(sd15: ModelSampling) -> None:
    one = ops.sd_turbo(sd15, 1, 1.0)
    assert close(one, [float(sd15.sigmas[999]), 0.0])
    four = ops.sd_turbo(sd15, 4, 1.0)
    assert close(four, [float(sd15.sigmas[t]) for t in (999, 899, 799, 699)] + [0.0])
    half = ops.sd_turbo(sd15, 2, 0.5)
    assert close(half, [float(sd15.sigmas[t]) for t in (499, 399)] + [0.0])
    assert close(ops.sd_turbo(sd15, 3, 0.0), [0.0])


def test_split_shares_the_boundary_sigma() -> None:
    s = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    high, low = ops.split(s, 2)
    assert high.tolist() == [5, 4, 3] and low.tolist() == [3, 2, 1, 0]
    high, low = ops.split(s, 0)
    assert high.tolist() == [5] and torch.equal(low, s)
    high, low = ops.split(s, 99)
    assert torch.equal(high, s) and low.tolist() == []


def test_split_denoise() -> None:
    s = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    high, low = ops.split_denoise(s, 0.4)  # the low part: round(5 * 0.4) = 2 steps
    assert high.tolist() == [5, 4, 3, 2] and low.tolist() == [2, 1, 0]
    high, low = ops.split_denoise(s, 1.0)
    assert high.tolist() == [5] and torch.equal(low, s)
    high, low = ops.split_denoise(s, 0.0)  # ComfyUI's slicing: sigmas[:-0] is empty
    assert high.tolist() == [] and low.tolist() == [0]


def test_flip() -> None:
    s = torch.tensor([3.0, 2.0, 0.0])
    out = ops.flip(s)
    assert out.tolist() == pytest.approx([0.0001, 2.0, 3.0]) and s.tolist() == [3, 2, 0]
    assert ops.flip(torch.tensor([3.0, 1.0])).tolist() == [1.0, 3.0]
    assert ops.flip(torch.FloatTensor([])).shape == (0,)


def test_set_first() -> None:
    s = torch.tensor([3.0, 2.0, 0.0])
    assert ops.set_first(s, 136.0).tolist() == [136, 2, 0] and s[0] == 3
    with pytest.raises(InvalidSigmas, match="empty"):
        ops.set_first(torch.FloatTensor([]), 1.0)


def test_extend_intermediate() -> None:
    s = torch.tensor([14.0, 10.0, 6.0, 0.0])
    out = ops.extend_intermediate(s, 2, -1.0, 12.0, "linear")  # only steps starting at sigma >= 12
    assert out.tolist() == [14, 12, 10, 6, 0]
    out = ops.extend_intermediate(s, 4, -1.0, 6.0, "linear")
    assert out.tolist() == [14, 13, 12, 11, 10, 9, 8, 7, 6, 4.5, 3, 1.5, 0]
    out = ops.extend_intermediate(s, 4, 11.0, 0.0, "linear")  # start_at_sigma bounds from above
    assert out.tolist() == [14, 10, 9, 8, 7, 6, 4.5, 3, 1.5, 0]
    cos = ops.extend_intermediate(torch.tensor([1.0, 0.0]), 2, -1.0, 0.0, "cosine")
    sin = ops.extend_intermediate(torch.tensor([1.0, 0.0]), 3, -1.0, 0.0, "sine")
    assert cos.tolist() == pytest.approx([1.0, 1 - math.sin(math.pi / 4), 0.0], abs=1e-6)
    assert sin.tolist() == pytest.approx([1.0, math.cos(math.pi / 6), math.cos(math.pi / 3), 0.0], abs=1e-6)
    assert ops.extend_intermediate(torch.FloatTensor([]), 2, -1.0, 0.0).shape == (0,)
    with pytest.raises(InvalidSigmas, match="spacing"):
        ops.extend_intermediate(s, 2, -1.0, 0.0, "cubic")


def test_manual_sigmas() -> None:
    assert ops.parse_manual("1, 0.5").tolist() == [1.0, 0.5]
    assert ops.parse_manual("14.6 7 3.2e-1;0").tolist() == pytest.approx([14.6, 7, 0.32, 0])
    assert ops.parse_manual("-1,+.5").tolist() == [-1.0, 0.5]
    assert ops.parse_manual("none").shape == (0,)


def test_percent_to_sigma(sd15: ModelSampling) -> None:
    assert ops.percent_to_sigma(sd15, 0.0) == 999999999.9
    assert ops.percent_to_sigma(sd15, 1.0) == 0.0
    assert ops.percent_to_sigma(sd15, 0.0, actual=True) == pytest.approx(14.614641)
    assert ops.percent_to_sigma(sd15, 1.0, actual=True) == pytest.approx(0.0291672, rel=1e-4)
    mid = ops.percent_to_sigma(sd15, 0.5, actual=True)
    assert mid == ops.percent_to_sigma(sd15, 0.5) == pytest.approx(float(sd15.sigma(torch.tensor(499.5))))


def test_check_sigmas() -> None:
    s = torch.tensor([1.0, 0.0])
    assert ops.check_sigmas(s) is s
    with pytest.raises(WrongInputType, match="SIGMAS"):
        ops.check_sigmas([1.0, 0.0])
    with pytest.raises(InvalidSigmas, match="1-D"):
        ops.check_sigmas(torch.zeros(2, 2))
    with pytest.raises(InvalidSigmas, match="float"):
        ops.check_sigmas(torch.tensor([3, 0]))
