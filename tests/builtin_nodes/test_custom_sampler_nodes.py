"""Every node of comfy_extras.nodes_custom_sampler called as the executor calls it (execute with its inputs):
what it outputs, and that wrong inputs are named errors. Sampling nodes run a tiny real UNet-shaped module
under a CPU model manager; the full-checkpoint graphs are in tests/e2e/test_custom_sampling.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from builtin_nodes import custom_sampler_guiders as g
from builtin_nodes import custom_sampler_samplers as s
from builtin_nodes import custom_sampler_sigmas as sig
from builtin_nodes.sampler_nodes import common_ksampler
from host.models.devices import DeviceConfig
from host.models.manager import ModelManager
from host.models.sampling import ModelSampling
from host.models.sampling.custom import CFGGuider, DisableNoise, DualCFGGuider, RandomNoise, Sampler
from host.models.sampling.errors import InvalidSigmas, UnknownSampler, WrongInputType
from isolate.context import CURRENT_NODE, NodeContext

MS = ModelSampling.discrete("eps")


class TinyUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.ctx = nn.Linear(8, 4)

    def forward(self, x, timesteps, context=None, y=None):
        t = (timesteps.float() / 1000)[:, None, None, None]
        return torch.tanh(self.conv(x) * (1 + t) + self.ctx(context.mean(1))[:, :, None, None])


class TinyModel:
    """The MODEL attributes the sampling nodes read."""

    def __init__(self) -> None:
        self.unet = TinyUNet().eval()
        self.prediction = "eps"
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.latent_channels = 4
        self.latent_scale = 0.18215


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None]] = []

    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        self.seen.append((value, max_value))


@pytest.fixture
def hook() -> Iterator[Progress]:
    hook = Progress()
    token = CURRENT_NODE.set(NodeContext("p", "5", 0, hook=hook, models=ModelManager(DeviceConfig(cpu=True))))
    yield hook
    CURRENT_NODE.reset(token)


@pytest.fixture(scope="module")
def model() -> TinyModel:
    return TinyModel()


def cond(value: float) -> list:
    return [[torch.full((1, 3, 8), value), {}]]


def out(node: Any, **inputs: Any) -> tuple[Any, ...]:
    return tuple(node.execute(**inputs).values)


def one(node: Any, **inputs: Any) -> Any:
    [value] = out(node, **inputs)
    return value


# -- schedulers -------------------------------------------------------------------------------------------
def test_basic_scheduler(model: TinyModel) -> None:
    sigmas = one(sig.BasicScheduler, model=model, scheduler="karras", steps=5, denoise=1.0)
    assert torch.allclose(sigmas[:-1], ((14.614641 ** (1 / 7) + torch.linspace(0, 1, 5) * (
        float(MS.sigma_min) ** (1 / 7) - 14.614641 ** (1 / 7))) ** 7), rtol=1e-5)
    cut = one(sig.BasicScheduler, model=model, scheduler="normal", steps=4, denoise=0.5)
    assert torch.equal(cut, one(sig.BasicScheduler, model=model, scheduler="normal", steps=8, denoise=1.0)[-5:])
    assert one(sig.BasicScheduler, model=model, scheduler="normal", steps=4, denoise=0.0).shape == (0,)
    with pytest.raises(WrongInputType, match="model must be a MODEL"):
        one(sig.BasicScheduler, model="not a model", scheduler="normal", steps=4, denoise=1.0)


def test_parametric_schedulers() -> None:
    karras = one(sig.KarrasScheduler, steps=4, sigma_max=10.0, sigma_min=0.1, rho=7.0)
    assert len(karras) == 5 and karras[0] == pytest.approx(10.0) and karras[3] == pytest.approx(0.1) and karras[-1] == 0
    with pytest.raises(InvalidSigmas, match="rho"):
        one(sig.KarrasScheduler, steps=4, sigma_max=10.0, sigma_min=0.1, rho=0.0)
    expo = one(sig.ExponentialScheduler, steps=3, sigma_max=10.0, sigma_min=0.1)
    assert expo.tolist() == pytest.approx([10.0, 1.0, 0.1, 0.0], rel=1e-5)
    poly = one(sig.PolyexponentialScheduler, steps=3, sigma_max=10.0, sigma_min=0.1, rho=1.0)
    assert torch.allclose(poly, expo)
    lap = one(sig.LaplaceScheduler, steps=5, sigma_max=14.614642, sigma_min=0.0291675, mu=0.0, beta=0.5)
    assert lap[2] == pytest.approx(1.0) and lap[0] > lap[1] > lap[2] > lap[3] > lap[4] > lap[5] == 0
    vp = one(sig.VPScheduler, steps=2, beta_d=19.9, beta_min=0.1, eps_s=0.001)
    assert vp.tolist() == pytest.approx([math.sqrt(math.exp(19.9 / 2 + 0.1) - 1),
                                         math.sqrt(math.exp(19.9e-6 / 2 + 1e-4) - 1), 0.0], rel=1e-3)


def test_model_schedulers(model: TinyModel) -> None:
    beta = one(sig.BetaSamplingScheduler, model=model, steps=4, alpha=0.6, beta=0.6)
    assert beta[0] == pytest.approx(float(MS.sigma_max)) and beta[-1] == 0 and len(beta) == 5
    turbo = one(sig.SDTurboScheduler, model=model, steps=2, denoise=1.0)
    assert turbo.tolist() == pytest.approx([float(MS.sigmas[999]), float(MS.sigmas[899]), 0.0])
    assert one(sig.SamplingPercentToSigma, model=model, sampling_percent=0.0, return_actual_sigma=False) == 999999999.9
    assert one(sig.SamplingPercentToSigma, model=model, sampling_percent=1.0,
               return_actual_sigma=True) == pytest.approx(float(MS.sigma_min))


# -- sigma operations -------------------------------------------------------------------------------------
def test_sigma_operations() -> None:
    s5 = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0])
    high, low = out(sig.SplitSigmas, sigmas=s5, step=1)
    assert high.tolist() == [4, 3] and low.tolist() == [3, 2, 1, 0]
    high, low = out(sig.SplitSigmasDenoise, sigmas=s5, denoise=0.5)
    assert high.tolist() == [4, 3, 2] and low.tolist() == [2, 1, 0]
    assert one(sig.FlipSigmas, sigmas=s5).tolist() == pytest.approx([0.0001, 1, 2, 3, 4])
    assert one(sig.SetFirstSigma, sigmas=s5, sigma=136.0).tolist() == [136, 3, 2, 1, 0]
    extended = one(sig.ExtendIntermediateSigmas, sigmas=s5, steps=2, start_at_sigma=-1.0, end_at_sigma=3.0,
                   spacing="linear")
    assert extended.tolist() == [4, 3.5, 3, 2.5, 2, 1, 0]
    assert one(sig.ManualSigmas, sigmas="1, 0.5").tolist() == [1.0, 0.5]


@pytest.mark.parametrize("node, extra", [(sig.SplitSigmas, {"step": 0}), (sig.SplitSigmasDenoise, {"denoise": 1.0}),
                                         (sig.FlipSigmas, {}), (sig.SetFirstSigma, {"sigma": 1.0}),
                                         (sig.ExtendIntermediateSigmas, {"steps": 2, "start_at_sigma": -1.0,
                                                                         "end_at_sigma": 0.0, "spacing": "linear"})])
def test_sigma_nodes_refuse_what_is_not_sigmas(node: Any, extra: dict) -> None:
    with pytest.raises(WrongInputType, match="SIGMAS"):
        out(node, sigmas=[1.0, 0.0], **extra)
    with pytest.raises(InvalidSigmas, match="1-D"):
        out(node, sigmas=torch.ones(2, 3), **extra)


def test_set_first_sigma_of_empty_sigmas() -> None:
    with pytest.raises(InvalidSigmas, match="empty"):
        one(sig.SetFirstSigma, sigmas=one(sig.ManualSigmas, sigmas=""), sigma=1.0)


# -- samplers ---------------------------------------------------------------------------------------------
def sampler(node: Any, **inputs: Any) -> Sampler:
    value = one(node, **inputs)
    assert isinstance(value, Sampler)
    return value


def test_sampler_nodes_pick_the_table_sampler_with_its_options(model: TinyModel) -> None:
    assert sampler(s.KSamplerSelect, sampler_name="dpmpp_2m").name == "dpmpp_2m"
    with pytest.raises(UnknownSampler):
        one(s.KSamplerSelect, sampler_name="no_such")
    cases = [
        (s.SamplerEulerAncestral, {"eta": 0.5, "s_noise": 0.9}, "euler_ancestral", {"eta": 0.5, "s_noise": 0.9}),
        (s.SamplerEulerAncestralCFGPP, {"eta": 1.0, "s_noise": 1.0}, "euler_ancestral_cfg_pp",
         {"eta": 1.0, "s_noise": 1.0}),
        (s.SamplerLMS, {"order": 3}, "lms", {"order": 3}),
        (s.SamplerDPMPP_3M_SDE, {"eta": 1.0, "s_noise": 1.0, "noise_device": "gpu"}, "dpmpp_3m_sde_gpu",
         {"eta": 1.0, "s_noise": 1.0}),
        (s.SamplerDPMPP_2M_SDE, {"solver_type": "heun", "eta": 0.5, "s_noise": 1.0, "noise_device": "cpu"},
         "dpmpp_2m_sde", {"eta": 0.5, "s_noise": 1.0, "solver_type": "heun"}),
        (s.SamplerDPMPP_SDE, {"eta": 1.0, "s_noise": 1.0, "r": 0.3, "noise_device": "cpu"}, "dpmpp_sde",
         {"eta": 1.0, "s_noise": 1.0, "r": 0.3}),
        (s.SamplerDPMPP_2S_Ancestral, {"eta": 1.0, "s_noise": 0.5}, "dpmpp_2s_ancestral",
         {"eta": 1.0, "s_noise": 0.5}),
        (s.SamplerSEEDS2, {"solver_type": "phi_2", "eta": 0.0, "s_noise": 1.0, "r": 1.0}, "seeds_2",
         {"solver_type": "phi_2", "eta": 0.0, "s_noise": 1.0, "r": 1.0}),
    ]
    for node, inputs, name, options in cases:
        value = sampler(node, **inputs)
        assert (value.name, dict(value.options)) == (name, options), node
    adaptive = dict(order=2, rtol=0.1, atol=0.01, h_init=0.1, pcoeff=0.1, icoeff=0.9, dcoeff=0.0, accept_safety=0.8,
                    eta=0.0, s_noise=1.0)
    value = sampler(s.SamplerDPMAdaptative, **adaptive)
    assert value.name == "dpm_adaptive" and dict(value.options) == adaptive


def test_er_sde_modes() -> None:
    er = sampler(s.SamplerER_SDE, solver_type="ER-SDE", max_stage=2, eta=0.3, s_noise=0.7)
    assert er.name == "er_sde" and dict(er.options) == {"s_noise": 0.7, "max_stage": 2}
    rev = sampler(s.SamplerER_SDE, solver_type="Reverse-time SDE", max_stage=3, eta=1.0, s_noise=1.0)
    assert rev.options["s_noise"] == 1.0 and rev.options["noise_scaler"](torch.tensor(3.0)) == 9.0
    ode = sampler(s.SamplerER_SDE, solver_type="ODE", max_stage=3, eta=1.0, s_noise=1.0)
    assert ode.options["s_noise"] == 0.0 and ode.options["noise_scaler"](torch.tensor(3.0)) == 3.0
    still = sampler(s.SamplerER_SDE, solver_type="Reverse-time SDE", max_stage=3, eta=0.0, s_noise=1.0)
    assert still.options["s_noise"] == 0.0


def test_sa_solver_interval_from_the_model(model: TinyModel) -> None:
    value = sampler(s.SamplerSASolver, model=model, eta=0.7, sde_start_percent=0.2, sde_end_percent=0.8,
                    s_noise=1.0, predictor_order=2, corrector_order=1, use_pece=True, simple_order_2=True)
    assert value.name == "sa_solver"
    opts = dict(value.options)
    tau = opts.pop("tau_func")
    assert opts == {"s_noise": 1.0, "predictor_order": 2, "corrector_order": 1, "use_pece": True,
                    "simple_order_2": True}
    start, end = MS.percent_to_sigma(0.2), MS.percent_to_sigma(0.8)
    assert tau(torch.tensor(start)) == 0.7 and tau(torch.tensor(end)) == 0.7
    assert tau(torch.tensor(start * 1.01)) == 0.0 and tau(torch.tensor(end * 0.99)) == 0.0


# -- guiders, noise, sampling -----------------------------------------------------------------------------
def test_guiders_and_noise(model: TinyModel) -> None:
    cfg = one(g.CFGGuider, model=model, positive=cond(1.0), negative=cond(-1.0), cfg=5.0)
    assert isinstance(cfg, CFGGuider) and cfg.cfg == 5.0 and cfg.model is model
    dual = one(g.DualCFGGuider, model=model, cond1=cond(1.0), cond2=cond(0.5), negative=cond(-1.0), cfg_conds=2.0,
               cfg_cond2_negative=3.0, style="nested")
    assert isinstance(dual, DualCFGGuider) and (dual.cfg, dual.cfg2, dual.nested) == (2.0, 3.0, True)
    basic = one(g.BasicGuider, model=model, conditioning=cond(1.0))
    assert basic.cfg == 1.0 and basic.negative == []
    assert one(g.RandomNoise, noise_seed=7) == RandomNoise(7) and one(g.DisableNoise) == DisableNoise()
    with pytest.raises(WrongInputType, match="model must be a MODEL"):
        one(g.CFGGuider, model=None, positive=cond(1.0), negative=cond(-1.0), cfg=5.0)


def test_add_noise_node(model: TinyModel) -> None:
    latent = {"samples": torch.zeros(1, 4, 8, 8), "batch_index": [2]}
    noisy = one(g.AddNoise, model=model, noise=RandomNoise(1), sigmas=torch.tensor([3.0, 1.0]), latent_image=latent)
    torch.manual_seed(1)
    draws = [torch.randn(1, 4, 8, 8) for _ in range(3)]
    assert noisy["batch_index"] == [2] and torch.allclose(noisy["samples"], draws[2] * 2.0 / 0.18215)
    with pytest.raises(WrongInputType, match="noise must be NOISE"):
        one(g.AddNoise, model=model, noise=7, sigmas=torch.tensor([3.0, 1.0]), latent_image=latent)


def test_sampler_custom_nodes_equal_ksampler(model: TinyModel, hook: Progress) -> None:
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    [expected] = common_ksampler(model, 9, 3, 6.0, "euler_ancestral", "karras", cond(1.0), cond(-1.0), latent)
    hook.seen.clear()
    sigmas = one(sig.BasicScheduler, model=model, scheduler="karras", steps=3, denoise=1.0)
    pick = one(s.KSamplerSelect, sampler_name="euler_ancestral")
    output, denoised = out(g.SamplerCustom, model=model, add_noise=True, noise_seed=9, cfg=6.0, positive=cond(1.0),
                           negative=cond(-1.0), sampler=pick, sigmas=sigmas, latent_image=latent)
    assert torch.equal(output["samples"], expected["samples"])
    assert hook.seen == [(1, 3), (2, 3), (3, 3)]
    # the last denoised estimate, unscaled: euler_ancestral's last step (to sigma 0) lands exactly on it
    assert denoised is not output and torch.equal(denoised["samples"], output["samples"])
    guider = one(g.CFGGuider, model=model, positive=cond(1.0), negative=cond(-1.0), cfg=6.0)
    adv, _ = out(g.SamplerCustomAdvanced, noise=RandomNoise(9), guider=guider, sampler=pick, sigmas=sigmas,
                 latent_image=latent)
    assert torch.equal(adv["samples"], expected["samples"])


def test_sampler_custom_without_noise_and_with_empty_sigmas(model: TinyModel, hook: Progress) -> None:
    latent = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))}
    [expected] = common_ksampler(model, 4, 2, 3.0, "euler", "normal", cond(1.0), cond(-1.0), latent,
                                 disable_noise=True)
    sigmas = one(sig.BasicScheduler, model=model, scheduler="normal", steps=2, denoise=1.0)
    output, _ = out(g.SamplerCustom, model=model, add_noise=False, noise_seed=4, cfg=3.0, positive=cond(1.0),
                    negative=cond(-1.0), sampler=Sampler("euler"), sigmas=sigmas, latent_image=latent)
    assert torch.equal(output["samples"], expected["samples"])
    guider = one(g.BasicGuider, model=model, conditioning=cond(1.0))
    output, denoised = out(g.SamplerCustomAdvanced, noise=RandomNoise(1), guider=guider, sampler=Sampler("euler"),
                           sigmas=torch.FloatTensor([]), latent_image=latent)
    assert torch.equal(output["samples"], latent["samples"]) and denoised is output


def test_sampler_custom_advanced_wrong_inputs(model: TinyModel, hook: Progress) -> None:
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    guider = CFGGuider(model, cond(1.0), cond(-1.0), 2.0)
    sigmas = torch.tensor([14.6, 0.0])
    good = {"noise": RandomNoise(1), "guider": guider, "sampler": Sampler("euler"), "sigmas": sigmas}
    for key, bad, match in [("noise", "seed", "noise must be NOISE"), ("guider", model, "guider must be a GUIDER"),
                            ("sampler", "euler", "sampler must be a SAMPLER"), ("sigmas", 14.6, "SIGMAS")]:
        with pytest.raises(WrongInputType, match=match):
            out(g.SamplerCustomAdvanced, **{**good, key: bad}, latent_image=latent)
