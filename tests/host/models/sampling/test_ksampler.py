"""ksampler end to end over a small real UNet-shaped module: seeding, CFG batching, conditioning, masks,
KSamplerAdvanced steps, interrupt, previews."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from host.models.sampling import (
    LatentChannelsMismatch,
    ModelSampling,
    SamplingInterrupted,
    ksampler,
    ksampler_sigmas,
    latent_preview_image,
    latent_to_rgb,
    prepare_noise,
)
from host.models.sampling.conds import Cond
from host.models.sampling.guidance import ModelCall, calc_cond_batch


class TinyUNet(nn.Module):
    """A real (tiny) eps UNet stand-in with the contract's call signature; records its calls."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.ctx = nn.Linear(8, 4)
        self.calls: list[tuple[int, torch.Tensor]] = []

    def forward(self, x, timesteps, context=None, y=None):
        self.calls.append((x.shape[0], context.detach().clone()))
        t = (timesteps.float() / 1000)[:, None, None, None]
        return torch.tanh(self.conv(x) * (1 + t) + self.ctx(context.mean(1))[:, :, None, None])


class TinyModel:
    """The DiffusionModel attributes ksampler reads."""

    def __init__(self) -> None:
        self.unet = TinyUNet().eval()
        self.prediction = "eps"
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.latent_channels = 4
        self.latent_scale = 0.18215


def cond(value: float, tokens: int = 3, **opts):
    return [[torch.full((1, tokens, 8), value), dict(opts)]]


def empty_latent(b: int = 1, h: int = 8, w: int = 8) -> dict:
    return {"samples": torch.zeros(b, 4, h, w)}


def run(model=None, **kw):
    args = dict(seed=5, steps=4, cfg=7.0, sampler_name="euler", scheduler="normal", positive=cond(1.0),
                negative=cond(-1.0), latent=empty_latent())
    args.update(kw)
    return ksampler(model or TinyModel(), **args)


def test_initial_noise_is_torch_manual_seed_randn() -> None:
    torch.manual_seed(1234)
    expected = torch.randn(2, 4, 8, 8)
    assert torch.equal(prepare_noise(torch.zeros(2, 4, 8, 8), 1234), expected)
    picked = prepare_noise(torch.zeros(2, 4, 8, 8), 1234, batch_index=[1, 0])
    torch.manual_seed(1234)
    first, second = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    assert torch.equal(picked, torch.cat([second, first]))


def test_deterministic_per_seed() -> None:
    a, b, c = run(seed=5), run(seed=5), run(seed=6)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert a.dtype == torch.float32 and a.device.type == "cpu" and torch.isfinite(a).all()
    a2, b2 = run(seed=5, sampler_name="euler_ancestral"), run(seed=5, sampler_name="dpmpp_2m_sde")
    assert torch.equal(a2, run(seed=5, sampler_name="euler_ancestral")) and not torch.allclose(a2, b2)


def test_cfg_is_one_batch_negative_first_and_matches_hand_computation() -> None:
    model = TinyModel()
    ms = ModelSampling.discrete("eps")
    out = run(model, steps=1, cfg=7.0)
    assert [n for n, _ in model.unet.calls] == [2]
    ctx = model.unet.calls[0][1]
    assert torch.all(ctx[0] == -1.0) and torch.all(ctx[1] == 1.0)  # [negative, positive]
    sigmas = ksampler_sigmas(ms, "normal", "euler", 1)
    torch.manual_seed(5)
    x = torch.randn(1, 4, 8, 8) * torch.sqrt(1 + sigmas[0] ** 2)
    call = ModelCall(model.unet, ms, torch.float32)
    s = sigmas[:1]
    d_c, d_u = call(x, s, torch.full((1, 3, 8), 1.0)), call(x, s, torch.full((1, 3, 8), -1.0))
    denoised = d_u + (d_c - d_u) * 7.0
    expected = x + (x - denoised) / sigmas[0] * (sigmas[1] - sigmas[0])
    assert torch.allclose(out, expected / 0.18215, atol=1e-4)


def test_cfg_one_skips_the_negative() -> None:
    model = TinyModel()
    run(model, steps=2, cfg=1.0)
    assert [n for n, _ in model.unet.calls] == [1, 1]


def test_timestep_ranges_select_entries() -> None:
    model = TinyModel()
    positive = cond(1.0, end_percent=0.5) + cond(2.0, start_percent=0.5)
    run(model, steps=4, cfg=1.0, positive=positive)
    values = [float(c[0, 0, 0]) for _, c in model.unet.calls]
    assert [n for n, _ in model.unet.calls] == [1, 1, 1, 1]
    assert values[0] == 1.0 and values[-1] == 2.0


def test_area_average_and_feathering() -> None:
    ms = ModelSampling.discrete("eps")

    class Const(nn.Module):
        def forward(self, x, timesteps, context=None, y=None):
            return context.mean(1)[:, :1, None, None].expand(x.shape[0], 4, x.shape[2], x.shape[3]) * 0 + \
                context[:, :1, :1, None]

    call = ModelCall(Const(), ms, torch.float32)
    x = torch.zeros(1, 4, 32, 32)
    sigma = torch.tensor([1.0])
    whole = Cond(torch.full((1, 2, 8), 1.0))
    area = Cond(torch.full((1, 2, 8), 3.0), area=(16, 16, 0, 16), strength=1.0)
    (out,) = calc_cond_batch(call, [[whole, area]], x, sigma)
    eps_whole, eps_area = 1.0, 3.0  # D = x - sigma * eps with x = 0
    assert torch.allclose(out[:, :, :, :8], torch.full_like(out[:, :, :, :8], -eps_whole))
    assert torch.allclose(out[:, :, 0, 31], torch.full_like(out[:, :, 0, 31], -(eps_whole + eps_area) / 2))
    # the area's inner (left) edge is feathered: its weight ramps 1/4 .. 1 over 4 columns
    w = 1 / 4
    assert torch.allclose(out[:, :, 0, 16], torch.full_like(out[:, :, 0, 16], -(eps_whole + w * eps_area) / (1 + w)))
    assert torch.allclose(out[:, :, 20, 20], torch.full_like(out[:, :, 20, 20], -eps_whole))


def test_noise_mask_keeps_the_unmasked_latent() -> None:
    latent = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))}
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :, 32:] = 1.0  # repaint the right half only
    out = run(latent={**latent, "noise_mask": mask})
    assert torch.allclose(out[..., :4], latent["samples"][..., :4], atol=1e-5)
    assert not torch.allclose(out[..., 4:], latent["samples"][..., 4:], atol=1e-2)
    ddim = run(latent={**latent, "noise_mask": mask}, sampler_name="ddim")
    assert torch.allclose(ddim[..., :4], latent["samples"][..., :4], atol=1e-5)


def test_denoise_and_advanced_steps() -> None:
    latent = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))}
    assert torch.equal(run(latent=latent, denoise=0.0), latent["samples"])
    assert torch.equal(run(latent=latent, start_step=4), latent["samples"])
    partial = run(latent=latent, denoise=0.5)
    assert torch.isfinite(partial).all() and not torch.allclose(partial, latent["samples"])
    whole = run(steps=8)
    first = run(steps=8, last_step=4, force_full_denoise=False)
    second = run(steps=8, start_step=4, add_noise=False, latent={"samples": first})
    assert torch.allclose(whole, second, atol=1e-4)
    full = run(steps=8, last_step=4, force_full_denoise=True)
    assert not torch.allclose(full, first)


def test_interrupt_is_checked_every_step() -> None:
    seen = []
    with pytest.raises(SamplingInterrupted):
        run(steps=10, callback=lambda i, total, x0: seen.append((i, total)), interrupted=lambda: len(seen) >= 3)
    assert seen == [(0, 10), (1, 10), (2, 10)]


def test_callback_per_step_and_device() -> None:
    seen = []
    run(steps=5, callback=lambda i, total, x0: seen.append((i, total, tuple(x0.shape))), device="cpu")
    assert seen == [(i, 5, (1, 4, 8, 8)) for i in range(5)]


def test_latent_channels() -> None:
    with pytest.raises(LatentChannelsMismatch, match="16 channels"):
        run(latent={"samples": torch.ones(1, 16, 8, 8)})
    assert run(latent={"samples": torch.zeros(1, 16, 8, 8)}).shape == (1, 4, 8, 8)


def test_v_prediction_model_runs() -> None:
    model = TinyModel()
    model.prediction = "v"
    assert torch.isfinite(run(model)).all()


def test_latent2rgb_preview() -> None:
    z = torch.zeros(2, 4, 3, 5)
    z[0, 0] = 1.0
    rgb = latent_to_rgb(z)
    assert rgb.shape == (3, 5, 3) and rgb.dtype == torch.uint8
    assert rgb[0, 0].tolist() == [int((1.3512 / 2) * 255), int((1.2297 / 2) * 255), int((1.3227 / 2) * 255)]
    assert latent_preview_image(z).size == (5, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device_uses_cpu_seeded_noise() -> None:
    """On CUDA the initial noise is still the CPU draw for the seed, so euler (no ancestral noise) matches
    the CPU result up to kernel rounding; the result comes back on the CPU."""
    cpu_out = run(steps=3)
    model = TinyModel()
    model.unet.cuda()
    model.device = torch.device("cuda")
    cuda_out = run(model, steps=3)
    assert cuda_out.device.type == "cpu"
    assert torch.allclose(cuda_out, cpu_out, atol=1e-3)
