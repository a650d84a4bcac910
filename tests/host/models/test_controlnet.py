"""ControlNet and T2I-Adapter: key layouts, loading (plain, prefixed, diff, bad files), residuals into the UNet's
skips, strength, start/end percent, chaining, sharing with the negative, through ksampler on tiny UNets."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from host.models.control_loading import load_control
from host.models.controlnet import ControlNetModel, controlnet_config_from_keys
from host.models.errors import CorruptModelFile, UnknownArchitecture
from host.models.sampling import ModelSampling, ksampler
from host.models.sampling.conds import resolve
from host.models.sampling.control import ControlModel, merge, resize_hint, share_with_uncond
from host.models.t2i_adapter import T2IAdapter, diffusers_to_original
from host.models.testing.control_layouts import SMALL_UNET, controlnet_layout, t2i_layout, write_random
from host.models.testing.layouts import SD15_UNET, SDXL_UNET, unet_layout
from host.models.unet import UNetModel
from host.models.unet_config import UNetConfig, unet_config_from_keys

pytestmark = pytest.mark.timeout(120)

#: a tiny two-level UNet (GroupNorm(32) needs widths of 32s)
TINY = UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1), input_depths=(1, 1),
                  middle_depth=1, output_depths=(1, 1, 1, 1), context_dim=64, num_heads=2)
#: four levels, two ResBlocks each: SD1's twelve input blocks, for the T2I-Adapter
TINY4 = UNetConfig(model_channels=32, channel_mult=(1, 2, 4, 4), num_res_blocks=(2, 2, 2, 2),
                   input_depths=(0,) * 8, middle_depth=0, output_depths=(0,) * 12, context_dim=64, num_heads=2)


class _Shapes(dict):
    def shape(self, key: str) -> tuple[int, ...]:
        return self[key]


def _meta_shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("lay", [SD15_UNET, SMALL_UNET], ids=["sd15", "small"])
def test_controlnet_key_layout_is_the_models(lay) -> None:
    shapes = controlnet_layout(lay)
    cfg, hint_channels = controlnet_config_from_keys(_Shapes(shapes), "")
    with torch.device("meta"):
        model = ControlNetModel(cfg, hint_channels)
    assert _meta_shapes(model) == shapes
    if lay is SD15_UNET:
        assert len(shapes) == 340 and shapes["input_hint_block.14.weight"] == (320, 256, 3, 3)
        assert shapes["zero_convs.11.0.weight"] == (1280, 1280, 1, 1)


def test_sdxl_controlnet_key_layout_is_the_models() -> None:
    """An SDXL ControlNet (the base UNet's encoder: linear proj_in, transformer depths 0/2/10, the ADM
    ``label_emb`` for the 2816-wide size vector): the keys read give the network that has them."""
    shapes = controlnet_layout(SDXL_UNET)
    cfg, hint_channels = controlnet_config_from_keys(_Shapes(shapes), "")
    with torch.device("meta"):
        model = ControlNetModel(cfg, hint_channels)
    assert _meta_shapes(model) == shapes
    assert cfg.adm_in_channels == 2816 and shapes["label_emb.0.0.weight"] == (1280, 2816)
    zero = sorted(int(k.split(".")[1]) for k in shapes if k.startswith("zero_convs.") and k.endswith("weight"))
    assert zero == list(range(9)) and shapes["zero_convs.8.0.weight"] == (1280, 1280, 1, 1)  # SDXL's 9 skips
    assert shapes["input_blocks.8.1.proj_in.weight"] == (1280, 1280)  # linear proj_in


def test_t2i_key_layout_is_the_models() -> None:
    with torch.device("meta"):
        model = T2IAdapter(192, 320, 1, use_conv=False)
    assert _meta_shapes(model) == t2i_layout()
    with torch.device("meta"):
        model = T2IAdapter(64, 320, 3, use_conv=True)
    assert _meta_shapes(model) == t2i_layout(64, 320, 3, use_conv=True)


def test_diffusers_adapter_names_map_to_the_original() -> None:
    sd = {"adapter.conv_in.weight": 1, "adapter.body.1.in_conv.weight": 2, "adapter.body.1.resnets.1.block1.bias": 3}
    assert diffusers_to_original(sd) == {"conv_in.weight": 1, "body.2.in_conv.weight": 2, "body.3.block1.bias": 3}


def _tiny_pair(seed: int = 0) -> tuple[UNetModel, ControlModel]:
    torch.manual_seed(seed)
    unet = UNetModel(TINY).eval()
    cnet = ControlNetModel(TINY, 3).eval()
    return unet, ControlModel(cnet, "controlnet")


def test_residuals_match_the_unet_skips_and_change_its_output() -> None:
    unet, cm = _tiny_pair()
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([500.0, 500.0]), torch.randn(2, 5, 64)
    hint = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        res = cm.model(x, hint, t, ctx)
        assert [r.shape[1:] for r in res["output"]] == [(32, 8, 8), (32, 8, 8), (32, 4, 4), (64, 4, 4)]
        assert res["middle"][0].shape == (2, 64, 4, 4)
        plain = unet(x, t, ctx)
        zero = {k: [torch.zeros_like(r) for r in v] for k, v in res.items()}
        assert torch.equal(unet(x, t, ctx, control=zero), plain)
        controlled = unet(x, t, ctx, control={k: list(v) for k, v in res.items()})
    assert (controlled - plain).abs().mean() > 1e-3


class _Model:
    """The DiffusionModel attributes ksampler reads, over a real (tiny) UNet."""

    def __init__(self, unet: UNetModel) -> None:
        self.unet, self.prediction, self.device, self.dtype = unet, "eps", torch.device("cpu"), torch.float32
        self.latent_channels, self.latent_scale = 4, 0.18215


def _sample(unet: UNetModel, pos_opts: dict, neg_opts: dict | None = None, steps: int = 3,
            record: list | None = None) -> torch.Tensor:
    torch.manual_seed(1)
    pos, neg = torch.randn(1, 5, 64), torch.randn(1, 5, 64)

    def callback(i: int, total: int, x0: torch.Tensor) -> None:
        if record is not None:
            record.append(x0.clone())

    return ksampler(_Model(unet), seed=3, steps=steps, cfg=4.0, sampler_name="euler", scheduler="normal",
                    positive=[[pos, pos_opts]], negative=[[neg, neg_opts or {}]],
                    latent={"samples": torch.zeros(1, 4, 8, 8)}, callback=callback)


def test_control_changes_the_sample_and_strength_zero_does_not() -> None:
    unet, cm = _tiny_pair()
    hint = torch.rand(1, 3, 64, 64)
    plain = _sample(unet, {})
    both = cm.apply(hint, 1.0)
    controlled = _sample(unet, {"control": both}, {"control": both})
    assert (controlled - plain).abs().mean() > 1e-3
    off = cm.apply(hint, 0.0)
    assert torch.allclose(_sample(unet, {"control": off}, {"control": off}), plain, atol=1e-5)


def test_start_and_end_percent() -> None:
    unet, cm = _tiny_pair()
    hint = torch.rand(1, 3, 64, 64)
    plain_steps: list = []
    plain = _sample(unet, {}, record=plain_steps)
    never = cm.apply(hint, 1.0, 0.0, 0.0)  # ends before the first step
    assert torch.allclose(_sample(unet, {"control": never}, {"control": never}), plain, atol=1e-5)
    late_steps: list = []
    late = cm.apply(hint, 1.0, 0.5, 1.0)  # starts half way
    out = _sample(unet, {"control": late}, {"control": late}, record=late_steps)
    assert torch.allclose(late_steps[0], plain_steps[0], atol=1e-5)
    assert (late_steps[-1] - plain_steps[-1]).abs().mean() > 1e-4 and (out - plain).abs().mean() > 1e-4


def test_chained_controls_add_up() -> None:
    _, cm = _tiny_pair()
    _, cm2 = _tiny_pair(seed=7)
    h1, h2 = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 32, 48)
    ms = ModelSampling.discrete()
    x, t, s, ctx = torch.randn(1, 4, 8, 8), torch.tensor([400.0]), torch.tensor([2.0]), torch.randn(1, 5, 64)
    first = cm.apply(h1, 0.5)
    second = cm2.apply(h2, 1.5, previous=first)
    alone = cm2.apply(h2, 1.5)
    got = second.residuals(x, t, s, ctx, None, 1, ms)
    a, b = first.residuals(x, t, s, ctx, None, 1, ms), alone.residuals(x, t, s, ctx, None, 1, ms)
    for place in ("output", "middle"):
        for g, ra, rb in zip(got[place], a[place], b[place], strict=True):
            assert torch.allclose(g, ra + rb, atol=1e-6)
    assert second.chain() == [first, second]


def test_merge_keeps_what_one_side_lacks() -> None:
    one, two = torch.ones(1), torch.full((1,), 2.0)
    assert merge({"input": [None, one]}, {"input": [two, two, two]}) == {"input": [two, one + two, two]}


def test_hint_is_centre_cropped_then_resized() -> None:
    hint = torch.zeros(1, 1, 4, 8)
    hint[..., 2:6] = 1.0  # the centre square
    assert torch.equal(resize_hint(hint, 2, 2), torch.ones(1, 1, 2, 2))


def test_controlnet_apply_old_shares_its_control_with_the_negative() -> None:
    ms = ModelSampling.discrete()
    c = SimpleNamespace()
    pos = resolve([[torch.zeros(1, 1, 8), {"control": c, "control_apply_to_uncond": True}]], (8, 8), "cpu", ms)
    neg = resolve([[torch.zeros(1, 1, 8), {}], [torch.zeros(1, 1, 8), {"area": (4, 4, 0, 0)}]], (8, 8), "cpu", ms)
    share_with_uncond(pos, neg)
    assert neg[0].control is c and neg[1].control is None
    adv = resolve([[torch.zeros(1, 1, 8), {"control": c, "control_apply_to_uncond": False}]], (8, 8), "cpu", ms)
    neg = resolve([[torch.zeros(1, 1, 8), {}]], (8, 8), "cpu", ms)
    share_with_uncond(adv, neg)
    assert neg[0].control is None


def test_t2i_adapter_features_land_after_input_blocks_2_5_8_11() -> None:
    torch.manual_seed(0)
    adapter = T2IAdapter(192, 32, 1).eval()
    with torch.no_grad():
        features = adapter(torch.rand(1, 3, 64, 64))["input"][::-1]
    assert [i for i, f in enumerate(features) if f is not None] == [2, 5, 8, 11]
    assert [tuple(features[i].shape[1:]) for i in (2, 5, 8, 11)] == [(32, 8, 8), (64, 4, 4), (128, 2, 2), (128, 1, 1)]
    unet = UNetModel(TINY4).eval()
    plain = _sample(unet, {})
    cm = ControlModel(adapter, "t2i")
    adapted = cm.apply(torch.rand(1, 3, 64, 64), 1.0)
    assert (_sample(unet, {"control": adapted}, {"control": adapted}) - plain).abs().mean() > 1e-3


# -- files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["control_model.", ""])
def test_load_a_small_controlnet_file(tmp_path: Path, prefix: str) -> None:
    path = write_random(controlnet_layout(SMALL_UNET), tmp_path / "cn.safetensors", prefix=prefix)
    cm = load_control(path)
    assert cm.kind == "controlnet" and cm.dtype == torch.float32 and not cm.global_average_pooling
    assert len(cm.model.zero_convs) == 2 and cm.model.config.model_channels == 320
    shuffle = write_random(controlnet_layout(SMALL_UNET), tmp_path / "control_v11e_sd15_shuffle.safetensors")
    assert load_control(shuffle).global_average_pooling


def test_diff_controlnet_adds_the_models_unet(tmp_path: Path) -> None:
    diff = torch.zeros(1)
    path = write_random(controlnet_layout(SMALL_UNET), tmp_path / "diff.safetensors", prefix="control_model.",
                        extra={"difference": diff})
    alone = load_control(path)
    with torch.device("meta"):
        unet = UNetModel(unet_config_from_keys(_Shapes(unet_layout(SMALL_UNET)), ""))
    unet = unet.to_empty(device="cpu")
    for p in unet.parameters():
        p.data.fill_(0.25)
    base = SimpleNamespace(unet=unet)
    summed = load_control(path, base=base)
    a, b = alone.model.state_dict(), summed.model.state_dict()
    assert torch.allclose(b["input_blocks.0.0.weight"], a["input_blocks.0.0.weight"] + 0.25, atol=1e-3)  # fp16 sum
    assert torch.equal(b["zero_convs.0.0.weight"], a["zero_convs.0.0.weight"])  # no UNet counterpart


def test_load_t2i_adapter_file(tmp_path: Path) -> None:
    cm = load_control(write_random(t2i_layout(64, 320, 3, use_conv=True), tmp_path / "t2i.safetensors"))
    assert cm.kind == "t2i" and cm.model.hint_channels == 1
    xl = write_random({"conv_in.weight": (320, 768, 3, 3), "body.0.block2.weight": (320, 320, 1, 1)},
                      tmp_path / "xl.safetensors")
    with pytest.raises(UnknownArchitecture, match="SDXL"):
        load_control(xl)


def test_diffusers_controlnet_is_the_same_network(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from host.models.testing.diffusers_folder import controlnet_key

    cldm = write_random(controlnet_layout(SMALL_UNET), tmp_path / "cldm.safetensors", dtype=torch.float32)
    save_file({controlnet_key(k, 1): v for k, v in load_file(str(cldm)).items()},
              str(tmp_path / "diffusion_pytorch_model.safetensors"))
    a, b = load_control(cldm), load_control(tmp_path / "diffusion_pytorch_model.safetensors")
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CorruptModelFile, match="corrupt.safetensors"):
        load_control(corrupt)
    other = write_random({"foo.weight": (2, 2)}, tmp_path / "other.safetensors")
    with pytest.raises(UnknownArchitecture, match="no ControlNet or T2I-Adapter"):
        load_control(other)
    diffusers = write_random({"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3)}, tmp_path / "d.safetensors")
    with pytest.raises(UnknownArchitecture, match="d.safetensors"):
        load_control(diffusers)
