"""Latent nodes of comfy_extras.nodes_latent: arithmetic with fitting, concat/cut, batches, LATENT_OPERATIONs and the
pre-CFG hook they ride on."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from builtin_nodes import latent_operations as ops
from builtin_nodes import latent_ops as lo
from host.models.sampling import guidance


def out(node: type, **kwargs):
    return node.execute(**kwargs).values[0]


def lat(*shape: int, seed: int = 0, **extra) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"samples": torch.randn(*shape, generator=g), **extra}


def test_add_subtract_multiply_keep_the_first_dict() -> None:
    a, b = lat(2, 4, 3, 5, batch_index=[7, 8]), lat(2, 4, 3, 5, seed=1)
    added = out(lo.LatentAdd, samples1=a, samples2=b)
    assert torch.equal(added["samples"], a["samples"] + b["samples"]) and added["batch_index"] == [7, 8]
    assert torch.equal(out(lo.LatentSubtract, samples1=a, samples2=b)["samples"], a["samples"] - b["samples"])
    assert torch.equal(out(lo.LatentMultiply, samples=a, multiplier=-2.5)["samples"], a["samples"] * -2.5)
    assert a["samples"].shape == (2, 4, 3, 5)  # inputs untouched


def test_second_latent_is_fitted_in_batch_and_size() -> None:
    a = lat(3, 4, 4, 4)
    b = {"samples": torch.ones(1, 4, 8, 8)}  # other size, one item: resized, then repeated
    assert torch.allclose(out(lo.LatentAdd, samples1=a, samples2=b)["samples"], a["samples"] + 1.0)
    c = {"samples": torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 4, 4, 4)}  # a longer batch is cut
    assert torch.equal(out(lo.LatentSubtract, samples1=a, samples2=c)["samples"], a["samples"] - c["samples"][:3])
    wide = {"samples": torch.zeros(1, 4, 4, 8)}
    wide["samples"][..., 2:6] = 1.0  # centre-cropped to 4x4 first: all ones
    assert torch.allclose(out(lo.LatentAdd, samples1=a, samples2=wide)["samples"], a["samples"] + 1.0)


def test_video_latents_are_resized_frame_by_frame() -> None:
    a = lat(1, 4, 3, 4, 4)
    b = {"samples": torch.arange(3.0).reshape(1, 1, 3, 1, 1).expand(1, 4, 3, 8, 8)}  # frame t is all t
    result = out(lo.LatentAdd, samples1=a, samples2=b)["samples"]
    assert result.shape == (1, 4, 3, 4, 4)
    assert torch.allclose(result - a["samples"], torch.arange(3.0).reshape(1, 1, 3, 1, 1).expand(1, 4, 3, 4, 4))


def test_interpolate_mixes_directions_and_lengths() -> None:
    a, b = lat(1, 4, 2, 2), lat(1, 4, 2, 2, seed=3)
    assert torch.allclose(out(lo.LatentInterpolate, samples1=a, samples2=b, ratio=1.0)["samples"], a["samples"],
                          atol=1e-6)
    assert torch.allclose(out(lo.LatentInterpolate, samples1=a, samples2=b, ratio=0.0)["samples"], b["samples"],
                          atol=1e-6)
    half = out(lo.LatentInterpolate, samples1=a, samples2=b, ratio=0.5)["samples"]
    norms = torch.linalg.vector_norm(half, dim=1)
    expected = (torch.linalg.vector_norm(a["samples"], dim=1) + torch.linalg.vector_norm(b["samples"], dim=1)) / 2
    assert torch.allclose(norms, expected, atol=1e-5)
    zero = out(lo.LatentInterpolate, samples1={"samples": torch.zeros(1, 4, 2, 2)}, samples2=b, ratio=0.5)
    assert torch.isfinite(zero["samples"]).all()


@pytest.mark.parametrize(("dim", "axis", "first"), [("x", -1, True), ("-x", -1, False), ("y", -2, True),
                                                    ("-y", -2, False), ("t", -3, True), ("-t", -3, False)])
def test_concat(dim: str, axis: int, first: bool) -> None:
    a, b = lat(2, 4, 3, 5, 6), lat(1, 4, 3, 5, 6, seed=1)
    result = out(lo.LatentConcat, samples1=a, samples2=b, dim=dim)["samples"]
    b2 = b["samples"].repeat(2, 1, 1, 1, 1)
    expected = torch.cat((a["samples"], b2) if first else (b2, a["samples"]), dim=axis)
    assert torch.equal(result, expected)


def test_cut_clamps_index_and_amount() -> None:
    a = lat(1, 4, 6, 8)
    s = a["samples"]
    assert torch.equal(out(lo.LatentCut, samples=a, dim="x", index=2, amount=3)["samples"], s[..., 2:5])
    assert torch.equal(out(lo.LatentCut, samples=a, dim="y", index=-2, amount=5)["samples"], s[:, :, 4:6])
    assert torch.equal(out(lo.LatentCut, samples=a, dim="x", index=100, amount=4)["samples"], s[..., 7:8])
    assert torch.equal(out(lo.LatentCut, samples=a, dim="x", index=-100, amount=2)["samples"], s[..., 0:2])
    video = lat(1, 4, 5, 2, 2)
    assert out(lo.LatentCut, samples=video, dim="t", index=1, amount=2)["samples"].shape == (1, 4, 2, 2, 2)


def test_cut_to_batch() -> None:
    video = {"samples": torch.arange(2 * 7.0).reshape(1, 1, 14, 1, 1).expand(1, 2, 14, 1, 1).contiguous()}
    cut = out(lo.LatentCutToBatch, samples=video, dim="t", slice_size=4)["samples"]
    assert cut.shape == (3, 2, 4, 1, 1)  # 14 frames: 3 slices of 4, 2 dropped
    assert cut[1, 0, :, 0, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    image = lat(1, 4, 4, 6)
    assert out(lo.LatentCutToBatch, samples=image, dim="x", slice_size=2)["samples"].shape == (3, 4, 4, 2)
    assert out(lo.LatentCutToBatch, samples=image, dim="y", slice_size=10)["samples"].shape == (1, 4, 4, 6)
    assert out(lo.LatentCutToBatch, samples=image, dim="t", slice_size=1) is image  # t of 4-D: the channels


def test_latent_batch_and_seed_behavior() -> None:
    a, b = lat(2, 4, 4, 4), lat(1, 4, 8, 8, seed=1, batch_index=[5])
    batch = out(lo.LatentBatch, samples1=a, samples2=b)
    assert batch["samples"].shape == (3, 4, 4, 4) and batch["batch_index"] == [0, 1, 5]
    fixed = out(lo.LatentBatchSeedBehavior, samples=batch, seed_behavior="fixed")
    assert fixed["batch_index"] == [0, 0, 0]
    assert "batch_index" not in out(lo.LatentBatchSeedBehavior, samples=batch, seed_behavior="random")
    assert out(lo.LatentBatchSeedBehavior, samples=lat(2, 4, 1, 1), seed_behavior="fixed")["batch_index"] == [0, 0]


def test_replace_video_latent_frames() -> None:
    dest = {"samples": torch.zeros(1, 4, 6, 2, 2)}
    source = {"samples": torch.ones(1, 4, 2, 2, 2), "extra": 1}
    placed = out(lo.ReplaceVideoLatentFrames, destination=dest, index=-2, source=source)
    assert placed["samples"][:, :, 4:].eq(1).all() and placed["samples"][:, :, :4].eq(0).all()
    assert placed["extra"] == 1 and dest["samples"].sum() == 0
    assert out(lo.ReplaceVideoLatentFrames, destination=dest, index=5, source=source) is dest  # does not fit
    assert out(lo.ReplaceVideoLatentFrames, destination=dest, index=-9, source=source) is dest
    assert out(lo.ReplaceVideoLatentFrames, destination=dest, index=0) is dest


def test_tonemap_reinhard_compresses_lengths_keeps_directions() -> None:
    latent = lat(2, 4, 8, 8)["samples"] * 3
    op = out(ops.LatentOperationTonemapReinhard, multiplier=1.0)
    result = op(latent=latent)
    m = torch.linalg.vector_norm(latent, dim=1, keepdim=True) + 1e-10
    top = (m.std(dim=(1, 2, 3), keepdim=True) * 5 + m.mean(dim=(1, 2, 3), keepdim=True))
    expected = latent / m * ((m / top) / (m / top + 1) * top)
    assert torch.allclose(result, expected, atol=1e-6)
    cos = torch.nn.functional.cosine_similarity(result, latent, dim=1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
    assert (torch.linalg.vector_norm(result, dim=1) < torch.linalg.vector_norm(latent, dim=1)).all()


def test_sharpen_is_identity_at_alpha_zero_and_sharpens_otherwise() -> None:
    latent = lat(1, 4, 16, 16)["samples"]
    identity = out(ops.LatentOperationSharpen, sharpen_radius=3, sigma=1.0, alpha=0.0)(latent=latent)
    assert identity.shape == latent.shape and torch.allclose(identity, latent, atol=1e-5)
    sharp = out(ops.LatentOperationSharpen, sharpen_radius=3, sigma=1.0, alpha=0.5)(latent=latent)
    assert sharp.shape == latent.shape and not torch.allclose(sharp, latent, atol=1e-3)
    flat = torch.ones(1, 4, 16, 16)
    assert torch.allclose(out(ops.LatentOperationSharpen, sharpen_radius=3, sigma=1.0, alpha=0.5)(latent=flat)
                          [:, :, 3:-3, 3:-3], flat[:, :, 3:-3, 3:-3], atol=1e-5)  # the kernel sums to 1


def test_sharpen_radius_larger_than_the_latent_is_a_clear_error() -> None:
    with pytest.raises(ops.LatentTooSmall, match="radius of 9"):
        out(ops.LatentOperationSharpen, sharpen_radius=9, sigma=1.0, alpha=0.1)(latent=torch.zeros(1, 4, 8, 8))


def test_gaussian_kernel() -> None:
    k = ops.gaussian_kernel(5, 1.0)
    assert k.shape == (5, 5) and torch.isclose(k.sum(), torch.tensor(1.0)) and k[2, 2] == k.max()
    assert torch.isclose(k[0, 0] / k[2, 2], torch.exp(torch.tensor(-1.0)))  # corner at distance sqrt(2)


def test_apply_operation() -> None:
    a = lat(1, 4, 2, 2, batch_index=[3])
    result = out(ops.LatentApplyOperation, samples=a, operation=lambda latent, **kw: latent * 2)
    assert torch.equal(result["samples"], a["samples"] * 2) and result["batch_index"] == [3]


@dataclasses.dataclass
class FakeModel:
    name: str
    pre_cfg_functions: tuple = ()


def test_apply_operation_cfg_copies_the_model_with_a_pre_cfg_function() -> None:
    model = FakeModel("m")
    patched = out(ops.LatentApplyOperationCFG, model=model, operation=lambda latent, **kw: latent * 0)
    assert patched is not model and model.pre_cfg_functions == () and len(patched.pre_cfg_functions) == 1
    twice = out(ops.LatentApplyOperationCFG, model=patched, operation=lambda latent, **kw: latent)
    assert len(twice.pre_cfg_functions) == 2
    cond, uncond = torch.full((1, 4, 2, 2), 3.0), torch.full((1, 4, 2, 2), 1.0)
    [new_cond, new_uncond] = patched.pre_cfg_functions[0]({"conds_out": [cond, uncond]})
    assert torch.equal(new_cond, uncond) and new_uncond is uncond  # op(cond - uncond) + uncond, op = zero


def test_guided_denoiser_runs_pre_cfg_functions_before_combining(monkeypatch: pytest.MonkeyPatch) -> None:
    cond, uncond = torch.full((1, 4, 2, 2), 3.0), torch.full((1, 4, 2, 2), 1.0)
    monkeypatch.setattr(guidance, "calc_cond_batch", lambda model, conds, x, sigma: [cond, uncond])
    x, sigma = torch.zeros(1, 4, 2, 2), torch.ones(1)
    model = SimpleNamespace(options=None)  # calc_cond_batch is replaced: only the model_options are read
    plain = guidance.GuidedDenoiser(model, [], [], 7.0)
    assert torch.equal(plain(x, sigma), uncond + (cond - uncond) * 7.0)
    halve = ops.cfg_operation(lambda latent, **kw: latent * 0.5)
    guided = guidance.GuidedDenoiser(model, [], [], 7.0, pre_cfg=(halve,))
    assert torch.equal(guided(x, sigma), uncond + (cond - uncond) * 0.5 * 7.0)
