"""SDXL base and refiner, on the meta device: the UNet built from the config read off the real key layout has
exactly the real keys and shapes; OpenCLIP-bigG's original keys convert to the transformers model's; the full
checkpoints hold the real key counts.

Where the numbers come from: the key counts are derived below from the published architectures (Stability's
sgm configs sd_xl_base.yaml / sd_xl_refiner.yaml, MODELS_FACTS §1 and §9: base channel_mult [1, 2, 4],
transformer depth [0, 2, 10], middle 10, context 2048, ADM 2816; refiner model_channels 384, channel_mult
[1, 2, 4, 4], depth 4 at levels 1-2 and in the middle, context 1280, ADM 2560; bigG 32 layers of width 1280,
MLP 5120), counting per module: a ResBlock has 10 tensors (+2 for a 1x1 skip when its channels change), a
SpatialTransformer 6 (norm, proj_in, proj_out) + 20 per transformer block (attn1 and attn2: q, k, v, out w+b = 5
each; ff 4; three LayerNorms 6), a resampler 2. The base UNet's 2,567,463,684 parameters are SDXL's published
2.6B.
"""

from __future__ import annotations

import math

import pytest
import torch

from host.models.clip_model import CLIP_SPECS, ClipTextModel, convert_open_clip
from host.models.detect import detect_family
from host.models.testing.layouts import SDXL_REFINER_UNET, SDXL_UNET, UNetLayout, open_clip_layout, unet_layout
from host.models.testing.make_checkpoint import layout
from host.models.unet import UNetModel
from host.models.unet_config import unet_config_from_keys

RES, SKIP, ST, BLOCK, RESAMPLE = 10, 2, 6, 20, 2


def _st(depth: int) -> int:
    return ST + BLOCK * depth if depth else 0


def expected_unet_keys(channel_mult: tuple[int, ...], depths: tuple[int, ...], middle: int) -> int:
    """Key count of an SDXL-style UNet (2 ResBlocks per level down, 3 up), counted module by module."""
    mc = 1
    n = 4 + 4 + 2 + 4  # time_embed, label_emb, input conv, out (norm + conv)
    chans, ch = [mc], mc
    for level, mult in enumerate(channel_mult):
        for _ in range(2):
            n += RES + (SKIP if ch != mult else 0) + _st(depths[level])
            ch = mult
            chans.append(ch)
        if level != len(channel_mult) - 1:
            n += RESAMPLE
            chans.append(ch)
    n += 2 * RES + _st(middle)
    for level, mult in reversed(list(enumerate(channel_mult))):
        for i in range(3):
            n += RES + (SKIP if ch + chans.pop() != mult else 0) + _st(depths[level])
            ch = mult
            if level and i == 2:
                n += RESAMPLE
    return n


def _meta(shapes: dict[str, tuple[int, ...]], prefix: str = "model.diffusion_model.") -> dict[str, torch.Tensor]:
    return {prefix + k: torch.empty(s, device="meta") for k, s in shapes.items()}


def _built(sd: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    cfg = unet_config_from_keys(sd)
    assert cfg is not None
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in UNetModel(cfg).state_dict().items()}


@pytest.mark.parametrize(("lay", "count"), [(SDXL_UNET, expected_unet_keys((1, 2, 4), (0, 2, 10), 10)),
                                           (SDXL_REFINER_UNET, expected_unet_keys((1, 2, 4, 4), (0, 4, 4, 0), 4))])
def test_unet_has_every_real_key(lay: UNetLayout, count: int) -> None:
    real = unet_layout(lay)
    assert len(real) == count
    assert _built(_meta(real)) == real


def test_derived_counts() -> None:
    assert expected_unet_keys((1, 2, 4), (0, 2, 10), 10) == 1680
    assert expected_unet_keys((1, 2, 4, 4), (0, 4, 4, 0), 4) == 1220
    assert sum(math.prod(s) for s in unet_layout(SDXL_UNET).values()) == 2_567_463_684


def test_config_read_from_the_keys() -> None:
    base = unet_config_from_keys(_meta(unet_layout(SDXL_UNET)))
    assert base is not None
    assert (base.model_channels, base.channel_mult, base.context_dim, base.use_linear, base.adm_in_channels) == (
        320, (1, 2, 4), 2048, True, 2816)
    assert base.input_depths == (0, 0, 2, 2, 10, 10) and base.middle_depth == 10  # MODELS_FACTS §1's depth list
    assert base.output_depths == (10, 10, 10, 2, 2, 2, 0, 0, 0) and base.heads(1280) == 20
    ref = unet_config_from_keys(_meta(unet_layout(SDXL_REFINER_UNET)))
    assert ref is not None
    assert (ref.model_channels, ref.context_dim, ref.adm_in_channels, ref.middle_depth) == (384, 1280, 2560, 4)
    assert ref.input_depths == (0, 0, 4, 4, 4, 4, 0, 0) and ref.output_depths == (0,) * 3 + (4,) * 6 + (0,) * 3


def test_open_clip_bigg_converted() -> None:
    real = open_clip_layout(1280, 32, 5120, proj=1280)
    assert len(real) == 32 * 12 + 6  # per layer 12; token/pos embedding, ln_final w+b, text_projection, logit_scale
    converted = {k: tuple(v.shape) for k, v in convert_open_clip(_meta(real, "")).items()}
    with torch.device("meta"):
        model = ClipTextModel(CLIP_SPECS["g"])
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert converted == ours and len(ours) == 32 * 16 + 5  # q/k/v split: 16 per layer


def test_full_checkpoints() -> None:
    base = layout("sdxl", "full")
    # UNet + KL VAE + CLIP-L (196 + position_ids) + OpenCLIP-bigG
    assert len(base) == 1680 + 248 + 197 + 390 == 2515
    assert base["conditioner.embedders.1.model.text_projection"] == (1280, 1280)
    assert base["model.diffusion_model.label_emb.0.0.weight"] == (1280, 2816)
    refiner = layout("sdxl_refiner", "full")
    assert len(refiner) == 1220 + 248 + 390
    assert refiner["model.diffusion_model.label_emb.0.0.weight"] == (1536, 2560)
    assert detect_family(_meta(base, "")).name == "sdxl"
    assert detect_family(_meta(refiner, "")).name == "sdxl_refiner"


@pytest.mark.parametrize("family", ["sdxl", "sdxl_refiner"])
def test_small_checkpoints_keep_what_detection_reads(family: str) -> None:
    small = layout(family, "small")
    assert detect_family(_meta(small, "")).name == family
    full = layout(family, "full")
    text = {k for k in small if k.startswith("conditioner.")}
    assert text <= set(full) and all(small[k][-1:] == full[k][-1:] for k in text if "mlp" not in k)
