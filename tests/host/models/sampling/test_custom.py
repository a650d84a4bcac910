"""Custom sampling (host/models/sampling/custom.py) over a tiny real UNet-shaped module: the same settings as
ksampler give the same latent; guiders, noise, AddNoise, sampler options; bad inputs are named errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from host.models.sampling import ModelSampling, UnknownSampler, ksampler
from host.models.sampling.conds import resolve
from host.models.sampling.custom import (
    CFGGuider,
    DisableNoise,
    DualCFGGuider,
    RandomNoise,
    Sampler,
    add_noise,
    basic_guider,
    sample_custom,
)
from host.models.sampling.errors import InvalidSigmas, LatentChannelsMismatch, WrongInputType
from host.models.sampling.guidance import GuidedDenoiser, ModelCall
from host.models.sampling.sigma_ops import basic_scheduler

SCALE = 0.18215


class TinyUNet(nn.Module):
    """A tiny eps UNet with the contract's call signature; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.ctx = nn.Linear(8, 4)
        self.calls = 0

    def forward(self, x, timesteps, context=None, y=None):
        self.calls += 1
        t = (timesteps.float() / 1000)[:, None, None, None]
        return torch.tanh(self.conv(x) * (1 + t) + self.ctx(context.mean(1))[:, :, None, None])


class TinyModel:
    def __init__(self) -> None:
        self.unet = TinyUNet().eval()
        self.prediction = "eps"
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.latent_channels = 4
        self.latent_scale = SCALE


def cond(value: float) -> list:
    return [[torch.full((1, 3, 8), value), {}]]


def latent(value: float = 0.0) -> dict:
    torch.manual_seed(11)
    return {"samples": torch.randn(1, 4, 8, 8) * value}


MS = ModelSampling.discrete("eps")


def custom(model, sampler="euler", steps=4, cfg=7.0, seed=5, scheduler="normal", denoise=1.0, lat=None,
           guider=None, noise=None, **options):
    guider = guider or CFGGuider(model, cond(1.0), cond(-1.0), cfg)
    sigmas = basic_scheduler(MS, scheduler, steps, denoise)
    return sample_custom(guider, noise or RandomNoise(seed), Sampler(sampler, options), sigmas, lat or latent())


def plain(model, sampler="euler", steps=4, cfg=7.0, seed=5, scheduler="normal", denoise=1.0, lat=None, **kw):
    return ksampler(model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler, scheduler=scheduler,
                    positive=cond(1.0), negative=cond(-1.0), latent=lat or latent(), denoise=denoise, **kw)


@pytest.mark.parametrize("sampler", ["euler", "euler_ancestral", "heun", "dpmpp_2m", "dpmpp_2m_sde", "lms",
                                     "euler_cfg_pp"])
def test_same_settings_same_latent_as_ksampler(sampler: str) -> None:
    model = TinyModel()
    assert torch.equal(custom(model, sampler).samples, plain(model, sampler))


def test_img2img_and_inpaint_match_ksampler() -> None:
    model = TinyModel()
    lat = latent(1.0)
    assert torch.equal(custom(model, denoise=0.6, lat=lat).samples, plain(model, denoise=0.6, lat=lat))
    masked = dict(lat, noise_mask=torch.ones(1, 8, 8).tril())
    for name in ("euler", "ddim"):  # ddim re-noises the kept region with a seed+1 draw
        assert torch.equal(custom(model, name, denoise=0.8, lat=masked).samples,
                           plain(model, name, denoise=0.8, lat=masked))


def test_disable_noise_is_ksampler_without_noise() -> None:
    model = TinyModel()
    lat = latent(1.0)
    out = custom(model, "euler_ancestral", noise=DisableNoise(5), lat=lat, denoise=0.5)
    assert torch.equal(out.samples, plain(model, "euler_ancestral", lat=lat, denoise=0.5, add_noise=False))


def test_x0_is_the_last_denoised_estimate_unscaled() -> None:
    model = TinyModel()
    seen: list = []
    guider = CFGGuider(model, cond(1.0), cond(-1.0), 7.0)
    result = sample_custom(guider, RandomNoise(5), Sampler("euler"), basic_scheduler(MS, "normal", 3, 1.0),
                           latent(), callback=lambda i, total, x0: seen.append((i, total, x0)))
    assert [(i, t) for i, t, _ in seen] == [(0, 3), (1, 3), (2, 3)]
    assert torch.equal(result.x0, seen[-1][2] / SCALE)
    # euler's last step lands on its denoised estimate
    assert torch.allclose(result.samples, result.x0, atol=1e-5)


def test_empty_sigmas_leave_the_latent() -> None:
    model = TinyModel()
    lat = latent(1.0)
    result = sample_custom(CFGGuider(model, cond(1.0), cond(-1.0), 7.0), RandomNoise(1), Sampler("euler"),
                           torch.FloatTensor([]), lat)
    assert torch.equal(result.samples, lat["samples"]) and result.x0 is None and model.unet.calls == 0


def test_sampler_options_reach_the_function() -> None:
    model = TinyModel()
    heun_exp = custom(model, "exp_heun_2_x0").samples
    seeds = custom(model, "seeds_2", solver_type="phi_2", r=1.0, eta=0.0, s_noise=1.0).samples
    assert torch.equal(heun_exp, seeds)
    assert not torch.allclose(custom(model, "seeds_2").samples, seeds)
    calm = custom(model, "euler_ancestral", eta=0.0).samples
    assert torch.allclose(calm, custom(model, "euler").samples, atol=1e-5)
    assert not torch.allclose(custom(model, "euler_ancestral").samples, calm)
    lms2 = custom(model, "lms", order=2).samples
    assert not torch.equal(lms2, custom(model, "lms").samples)


def test_er_sde_noise_scaler_identity_is_euler() -> None:
    model = TinyModel()
    ode = custom(model, "er_sde", s_noise=0.0, max_stage=1, noise_scaler=lambda x: x).samples
    assert torch.allclose(ode, custom(model, "euler").samples, rtol=1e-5, atol=1e-4)
    assert not torch.allclose(custom(model, "er_sde", s_noise=0.0, max_stage=1).samples, ode)


def test_sa_solver_simple_order_2_without_noise_is_dpmpp_2m() -> None:
    model = TinyModel()
    call = ModelCall(model.unet, MS, torch.float32)
    d = GuidedDenoiser(call, resolve(cond(1.0), (8, 8), torch.device("cpu"), MS), [], 1.0)
    sigmas = torch.tensor([14.6, 5.0, 2.0, 1.0])  # no final 0: every step after the first is of order 2
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)) * 14.6
    simple = Sampler("sa_solver", {"tau_func": lambda s: 0.0, "predictor_order": 2, "corrector_order": 0,
                                   "simple_order_2": True})
    full = Sampler("sa_solver", {"tau_func": lambda s: 0.0, "predictor_order": 2, "corrector_order": 0})
    a = simple.function(d, x, sigmas, **simple.options)
    b = Sampler("dpmpp_2m").function(d, x, sigmas)
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(full.function(d, x, sigmas, **full.options), a, atol=1e-4)


def test_dpm_adaptive_controller_options() -> None:
    model = TinyModel()
    base = custom(model, "dpm_adaptive").samples
    calls = model.unet.calls
    same = custom(model, "dpm_adaptive", pcoeff=0.0, icoeff=1.0, dcoeff=0.0, accept_safety=0.81).samples
    assert torch.equal(base, same)
    model.unet.calls = 0
    custom(model, "dpm_adaptive", rtol=0.5, atol=0.5, accept_safety=0.5)
    assert model.unet.calls < calls


def test_dual_cfg_regular_with_cfg2_one_is_cfg_between_the_conds() -> None:
    model = TinyModel()
    dual = DualCFGGuider(model, cond(1.0), cond(-1.0), 3.0, middle=cond(0.5), cfg2=1.0)
    expected = custom(model, guider=CFGGuider(model, cond(1.0), cond(0.5), 3.0)).samples
    assert torch.allclose(custom(model, guider=dual).samples, expected, atol=1e-5)


def test_dual_cfg_one_step_by_hand() -> None:
    model = TinyModel()
    call = ModelCall(model.unet, MS, torch.float32)
    sigmas = basic_scheduler(MS, "normal", 1, 1.0)
    torch.manual_seed(5)
    x = torch.randn(1, 4, 8, 8) * torch.sqrt(1 + sigmas[0] ** 2)
    s = sigmas[:1]
    p, m, n = (call(x, s, torch.full((1, 3, 8), v)) for v in (1.0, 0.5, -1.0))
    for nested, d in ((False, n + (m - n) * 4.0 + (p - m) * 2.0), (True, n + ((m + (p - m) * 2.0) - n) * 4.0)):
        guider = DualCFGGuider(model, cond(1.0), cond(-1.0), 2.0, middle=cond(0.5), cfg2=4.0, nested=nested)
        out = custom(model, steps=1, guider=guider).samples
        assert torch.allclose(out, (x + (x - d) / sigmas[0] * (sigmas[1] - sigmas[0])) / SCALE, atol=1e-4)


def test_basic_guider_is_cfg_one_on_the_conditioning() -> None:
    model = TinyModel()
    a = custom(model, guider=basic_guider(model, cond(1.0))).samples
    calls = model.unet.calls
    assert calls == 4  # one call per step: no negative
    assert torch.equal(a, plain(model, cfg=1.0))


def test_random_noise_is_comfyui_initial_noise() -> None:
    samples = torch.zeros(2, 4, 8, 8)
    torch.manual_seed(42)
    assert torch.equal(RandomNoise(42).generate(samples), torch.randn(2, 4, 8, 8))
    picked = RandomNoise(42).generate(samples, [1, 0])
    torch.manual_seed(42)
    first, second = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    assert torch.equal(picked, torch.cat([second, first]))
    zero = DisableNoise().generate(samples)
    assert zero.shape == samples.shape and not zero.any() and DisableNoise().seed == 0


def test_add_noise() -> None:
    model = TinyModel()
    lat = latent(1.0)
    sigmas = torch.tensor([10.0, 4.0, 0.5])
    out = add_noise(model, RandomNoise(3), sigmas, lat)
    torch.manual_seed(3)
    noise = torch.randn(1, 4, 8, 8)
    assert torch.allclose(out, (noise * 9.5 + lat["samples"] * SCALE) / SCALE, atol=1e-5)
    one = add_noise(model, RandomNoise(3), torch.tensor([2.0]), {"samples": torch.zeros(1, 4, 8, 8)})
    assert torch.allclose(one, noise * 2.0 / SCALE, atol=1e-5)
    assert torch.equal(add_noise(model, DisableNoise(), sigmas, lat), lat["samples"] * SCALE / SCALE)
    assert add_noise(model, RandomNoise(3), torch.FloatTensor([]), lat) is lat["samples"]
    wide = add_noise(model, RandomNoise(3), sigmas, {"samples": torch.full((1, 4, 8, 8), float("inf"))})
    assert torch.isfinite(wide).all()


def test_bad_inputs_are_named_errors() -> None:
    model = TinyModel()
    guider = CFGGuider(model, cond(1.0), cond(-1.0), 7.0)
    sigmas = basic_scheduler(MS, "normal", 2, 1.0)
    with pytest.raises(WrongInputType, match="noise must be NOISE"):
        sample_custom(guider, 5, Sampler("euler"), sigmas, latent())
    with pytest.raises(WrongInputType, match="sampler must be a SAMPLER"):
        sample_custom(guider, RandomNoise(1), "euler", sigmas, latent())
    with pytest.raises(WrongInputType, match="guider must be a GUIDER"):
        sample_custom(model, RandomNoise(1), Sampler("euler"), sigmas, latent())
    with pytest.raises(WrongInputType, match="model must be a MODEL"):
        sample_custom(CFGGuider("clip", [], []), RandomNoise(1), Sampler("euler"), sigmas, latent())
    with pytest.raises(WrongInputType, match="SIGMAS"):
        sample_custom(guider, RandomNoise(1), Sampler("euler"), [14.6, 0.0], latent())
    with pytest.raises(InvalidSigmas, match="1-D"):
        sample_custom(guider, RandomNoise(1), Sampler("euler"), sigmas[None], latent())
    with pytest.raises(LatentChannelsMismatch):
        sample_custom(guider, RandomNoise(1), Sampler("euler"), sigmas, {"samples": torch.ones(1, 3, 8, 8)})
    with pytest.raises(UnknownSampler):
        Sampler("no_such_sampler")


def test_importing_custom_first_keeps_the_package_ksampler_function() -> None:
    """custom.py imports helpers from the ksampler submodule; loaded first, it must not rebind the package's
    ``ksampler`` (KSampler's function) to the module."""
    import subprocess
    import sys

    code = ("import host.models.sampling.custom\nfrom host.models.sampling import ksampler\n"
            "assert callable(ksampler) and not hasattr(ksampler, 'ModelCall'), ksampler")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class OffsetNoise:
    """A pack's own NOISE, as ComfyUI's API has it: a seed and generate_noise(latent)."""

    def __init__(self, seed: int, offset: float) -> None:
        self.seed, self.offset = seed, offset

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        return RandomNoise(self.seed).generate_noise(input_latent) + self.offset


def test_a_pack_noise_object_and_comfyui_attribute_names() -> None:
    model = TinyModel()
    zero = custom(model, noise=OffsetNoise(5, 0.0)).samples
    assert torch.equal(zero, custom(model, noise=RandomNoise(5)).samples)
    assert not torch.allclose(custom(model, noise=OffsetNoise(5, 0.5)).samples, zero)
    with pytest.raises(WrongInputType, match="NOISE gave"):
        custom(model, noise=type("Short", (), {"seed": 1, "generate_noise": lambda self, lat: torch.zeros(3)})())
    lat = {"samples": torch.zeros(2, 4, 8, 8), "batch_index": [3, 1]}
    assert torch.equal(RandomNoise(2).generate_noise(lat), RandomNoise(2).generate(lat["samples"], [3, 1]))
    ddim = Sampler("ddim", {"x": 1})
    assert ddim.inpaint_options == {"random": True} and Sampler("euler").inpaint_options == {}
    assert ddim.extra_options == {"x": 1} and ddim.sampler_function is ddim.function
    guider = CFGGuider(model, cond(1.0))
    assert guider.model_patcher is model


@pytest.mark.parametrize("dual", [False, True])
def test_interrupt_stops_before_a_model_call(dual: bool) -> None:
    from host.models.sampling import SamplingInterrupted

    model = TinyModel()
    guider = (DualCFGGuider(model, cond(1.0), cond(-1.0), 2.0, middle=cond(0.5), cfg2=3.0) if dual
              else CFGGuider(model, cond(1.0), cond(-1.0), 7.0))
    calls = iter(range(100))
    with pytest.raises(SamplingInterrupted):
        sample_custom(guider, RandomNoise(1), Sampler("euler"), basic_scheduler(MS, "normal", 4, 1.0), latent(),
                      interrupted=lambda: next(calls) >= 2)
    assert model.unet.calls == 2
