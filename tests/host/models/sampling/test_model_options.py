"""A MODEL's model_options in the host's sampler (host.models.sampling.model_options,
host.models.attention_patches): ComfyUI's CFG functions in its order and argument shapes, the UNet wrapper,
the attention and block patches with their extra_options, each checked against the unpatched computation."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from host.models.sampling import ModelSampling, ksampler, ksampler_sigmas
from host.models.sampling.guidance import ModelCall
from host.models.sampling.model_options import sampler_options
from host.models.testing.control_layouts import SMALL_UNET
from host.models.testing.layouts import unet_layout
from host.models.unet import UNetModel
from host.models.unet_config import unet_config_from_keys

pytestmark = pytest.mark.timeout(120)


class _Shapes(dict):
    def shape(self, key: str) -> tuple[int, ...]:
        return self[key]


class Model:
    """The DiffusionModel attributes ksampler reads, with ComfyUI's model_options."""

    def __init__(self, unet: Any, model_options: dict[str, Any] | None = None) -> None:
        self.unet, self.prediction, self.device, self.dtype = unet, "eps", torch.device("cpu"), torch.float32
        self.latent_channels, self.latent_scale = 4, 0.18215
        self.model_options = model_options if model_options is not None else {"transformer_options": {}}


class TinyUNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.ctx = torch.nn.Linear(8, 4)
        self.batches: list[int] = []

    def forward(self, x, timesteps, context=None, y=None, **_):
        self.batches.append(x.shape[0])
        t = (timesteps.float() / 1000)[:, None, None, None]
        return torch.tanh(self.conv(x) * (1 + t) + self.ctx(context.mean(1))[:, :, None, None])


def cond(value: float, dim: int = 8) -> list:
    return [[torch.full((1, 3, dim), value), {}]]


def run(model: Model, steps: int = 3, cfg: float = 7.0, size: int = 8, dim: int = 8) -> torch.Tensor:
    return ksampler(model, seed=5, steps=steps, cfg=cfg, sampler_name="euler", scheduler="normal",
                    positive=cond(1.0, dim), negative=cond(-1.0, dim),
                    latent={"samples": torch.zeros(1, 4, size, size)})


def small_unet() -> UNetModel:
    torch.manual_seed(0)
    return UNetModel(unet_config_from_keys(_Shapes(unet_layout(SMALL_UNET)), "")).eval()


def test_no_options_is_none_and_a_plain_cfg_function_is_cfg() -> None:
    assert sampler_options(Model(TinyUNet())) is None
    plain = run(Model(TinyUNet()))
    fn = {"sampler_cfg_function": lambda a: a["uncond"] + (a["cond"] - a["uncond"]) * a["cond_scale"]}
    assert torch.allclose(run(Model(TinyUNet(), fn)), plain, atol=1e-5)
    cond_only = run(Model(TinyUNet(), {"sampler_cfg_function": lambda a: a["cond"]}))
    assert torch.allclose(cond_only, run(Model(TinyUNet()), cfg=1.0), atol=1e-5)
    assert not torch.allclose(cond_only, plain, atol=1e-3)


def test_the_functions_run_in_comfyuis_order_with_its_arguments() -> None:
    seen: list[tuple[str, list[str]]] = []

    def pre(a):
        seen.append(("pre", sorted(a)))
        return [a["conds_out"][0], a["conds_out"][1]]

    def cfg(a):
        seen.append(("cfg", sorted(a)))
        assert torch.allclose(a["cond"], a["input"] - a["cond_denoised"])
        return a["uncond"] + (a["cond"] - a["uncond"]) * a["cond_scale"]

    def post(a):
        seen.append(("post", sorted(a)))
        return a["denoised"]

    model = Model(TinyUNet(), {"sampler_pre_cfg_function": [pre], "sampler_cfg_function": cfg,
                               "sampler_post_cfg_function": [post]})
    run(model, steps=1)
    assert [s[0] for s in seen] == ["pre", "cfg", "post"]
    assert seen[0][1] == ["cond_scale", "conds", "conds_out", "input", "model", "model_options", "sigma", "timestep"]
    assert seen[1][1] == ["cond", "cond_denoised", "cond_scale", "input", "model", "model_options", "sigma",
                          "timestep", "uncond", "uncond_denoised"]
    assert set(seen[2][1]) >= {"denoised", "cond", "uncond", "model", "uncond_denoised", "cond_denoised", "sigma",
                               "model_options", "input"}


def test_post_cfg_scaling_is_the_hand_computed_step() -> None:
    unet = TinyUNet()
    out = run(Model(unet, {"sampler_post_cfg_function": [lambda a: a["denoised"] * 0.9]}), steps=1)
    ms = ModelSampling.discrete("eps")
    sigmas = ksampler_sigmas(ms, "normal", "euler", 1)
    torch.manual_seed(5)
    x = torch.randn(1, 4, 8, 8) * torch.sqrt(1 + sigmas[0] ** 2)
    call, s = ModelCall(TinyUNet(), ms, torch.float32), sigmas[:1]
    d_c, d_u = call(x, s, torch.full((1, 3, 8), 1.0)), call(x, s, torch.full((1, 3, 8), -1.0))
    denoised = (d_u + (d_c - d_u) * 7.0) * 0.9
    expected = x + (x - denoised) / sigmas[0] * (sigmas[1] - sigmas[0])
    assert torch.allclose(out, expected / 0.18215, atol=1e-4)


def test_disable_cfg1_optimization_runs_the_negative_at_cfg_1() -> None:
    skipped, kept = TinyUNet(), TinyUNet()
    run(Model(skipped, {"sampler_post_cfg_function": [lambda a: a["denoised"]]}), steps=1, cfg=1.0)
    run(Model(kept, {"disable_cfg1_optimization": True}), steps=1, cfg=1.0)
    assert skipped.batches == [1] and kept.batches == [2]


def test_a_unet_wrapper_wraps_every_call() -> None:
    plain = run(Model(TinyUNet()))
    calls: list[list[str]] = []

    def identity(apply_model, params):
        calls.append(sorted(params))
        return apply_model(params["input"], params["timestep"], **params["c"])

    assert torch.allclose(run(Model(TinyUNet(), {"model_function_wrapper": identity})), plain, atol=1e-6)
    assert calls and calls[0] == ["c", "cond_or_uncond", "input", "timestep"]
    halved = run(Model(TinyUNet(), {"model_function_wrapper": lambda f, p: f(p["input"], p["timestep"],
                                                                                **p["c"]) * 0.5}))
    assert not torch.allclose(halved, plain, atol=1e-3)


def _attention(q, k, v, extra):
    b, _, inner = q.shape
    heads = extra["n_heads"]
    q, k, v = (t.view(b, -1, heads, inner // heads).transpose(1, 2) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, -1, inner)


def test_identity_attention_patches_change_nothing_and_see_comfyuis_extra_options() -> None:
    unet = small_unet()
    plain = run(Model(unet), steps=2, size=16, dim=768)
    seen: list[dict[str, Any]] = []

    def attn1(n, context, value, extra):
        assert context is n and value is n
        b, c, h, w = extra["activations_shape"]
        assert (b, h * w, c) == tuple(n.shape) and extra["dim_head"] * extra["n_heads"] == c
        seen.append(extra)
        return n, context, value

    def attn2(n, context, value, extra):
        assert context.shape[-1] == 768 and value is context
        return n, context, value

    topts = {"patches": {"attn1_patch": [attn1], "attn2_patch": [attn2],
                         "attn1_output_patch": [lambda n, e: n], "attn2_output_patch": [lambda n, e: n]},
             "patches_replace": {"attn2": {("input", 1): _attention}}, "mine": 3}
    patched = run(Model(unet, {"transformer_options": topts}), steps=2, size=16, dim=768)
    assert torch.allclose(patched, plain, atol=1e-5)
    blocks = {tuple(e["block"]) for e in seen}
    assert ("middle", 0) in blocks and any(b[0] == "input" for b in blocks) and any(b[0] == "output" for b in blocks)
    first = seen[0]
    assert first["mine"] == 3 and first["block_index"] == 0 and first["n_heads"] > 0
    assert first["original_shape"] == [2, 4, 16, 16] and first["cond_or_uncond"] == [1, 0]
    assert all(tb.patch_hook is None for m in unet.modules() for tb in [m] if hasattr(tb, "patch_hook"))


def test_a_replace_patch_by_transformer_index_wins_and_changes_the_output() -> None:
    unet = small_unet()
    plain = run(Model(unet), steps=1, size=16, dim=768)
    used: list[str] = []

    def zero(name):
        def fn(q, k, v, extra):
            used.append(name)
            return torch.zeros_like(q)
        return fn

    topts = {"patches_replace": {"attn2": {("middle", 0): zero("block"), ("middle", 0, 0): zero("index")}}}
    out = run(Model(unet, {"transformer_options": topts}), steps=1, size=16, dim=768)
    assert used and set(used) == {"index"} and not torch.allclose(out, plain, atol=1e-4)


def test_block_patches_run_after_each_input_block_and_before_each_concat() -> None:
    unet = small_unet()
    plain = run(Model(unet), steps=1, size=16, dim=768)
    ins: list[tuple[str, int]] = []
    outs: list[tuple[str, int]] = []

    def inp(h, topts):
        ins.append(topts["block"])
        return h

    def out(h, skip, topts):
        outs.append(topts["block"])
        return h, skip

    topts = {"patches": {"input_block_patch": [inp], "output_block_patch": [out]}}
    same = run(Model(unet, {"transformer_options": topts}), steps=1, size=16, dim=768)
    assert torch.allclose(same, plain, atol=1e-6)
    assert ins[:len(unet.input_blocks)] == [("input", i) for i in range(len(unet.input_blocks))]
    assert outs[:len(unet.output_blocks)] == [("output", i) for i in range(len(unet.output_blocks))]
    assert unet.block_hook is None
