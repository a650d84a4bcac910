"""Detectors: each family from its key layout; an unknown layout names the file and what was found."""

from __future__ import annotations

import pytest
import torch

from host.models.detect import detect_clip_kind, detect_family
from host.models.errors import UnknownArchitecture
from host.models.testing.layouts import (
    SD15_UNET,
    SD21_UNET,
    UNetLayout,
    clip_l_layout,
    open_clip_layout,
    unet_layout,
)

P = "model.diffusion_model."


def _meta(shapes, prefix: str = P) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {prefix + k: torch.empty(s, device="meta") for k, s in shapes.items()}


def test_sd15() -> None:
    fam = detect_family(_meta(unet_layout(SD15_UNET)))
    assert (fam.name, fam.prediction, fam.clip_kind, fam.latent_scale) == ("sd15", "eps", "l", 0.18215)


def _sd2(std: float) -> dict[str, torch.Tensor]:
    sd = _meta(unet_layout(SD21_UNET))
    key = P + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
    sd[key] = torch.linspace(-1, 1, 320) * std / torch.linspace(-1, 1, 320).std(unbiased=False)
    return sd


def test_sd2_eps_and_v_told_apart_by_the_norm_bias_std() -> None:
    assert detect_family(_sd2(0.05)).name == "sd20"
    fam = detect_family(_sd2(0.2))
    assert (fam.name, fam.prediction, fam.clip_kind) == ("sd21v", "v", "h")


def test_sdxl_and_refiner_detected() -> None:
    xl = unet_layout(UNetLayout(channel_mult=(1, 2, 4), attn_levels=(1, 2), depth=2, context_dim=2048,
                                linear_proj=True))
    sd = _meta(xl) | {P + "label_emb.0.0.weight": torch.empty(1280, 2816, device="meta")}
    assert detect_family(sd).name == "sdxl"
    ref = unet_layout(UNetLayout(model_channels=384, channel_mult=(1, 2, 4, 4), attn_levels=(1, 2), depth=4,
                                 context_dim=1280, linear_proj=True))
    sd = _meta(ref) | {P + "label_emb.0.0.weight": torch.empty(1536, 2560, device="meta")}
    fam = detect_family(sd)
    assert fam.name == "sdxl_refiner" and fam.supported and fam.latent_scale == 0.13025


def test_bare_unet_file() -> None:
    assert detect_family(_meta(unet_layout(SD15_UNET), ""), prefix="").name == "sd15"


def test_unknown_names_the_file_and_what_was_found() -> None:
    sd = {"foo.bar.weight": torch.zeros(1), "foo.baz.weight": torch.zeros(1)}
    with pytest.raises(UnknownArchitecture, match=r"x\.safetensors.*2 tensors.*foo\.bar"):
        detect_family(sd, "x.safetensors")
    odd = _meta(unet_layout(UNetLayout(model_channels=64, context_dim=512)))
    with pytest.raises(UnknownArchitecture, match="model_channels=64"):
        detect_family(odd, "y.ckpt")


def test_clip_kinds() -> None:
    keys = set(_meta(clip_l_layout(), "cond_stage_model.transformer.text_model."))
    assert detect_clip_kind(keys) == ("l", "hf", "cond_stage_model.transformer.text_model.")
    assert detect_clip_kind(set(clip_l_layout())) == ("l", "hf", "")
    assert detect_clip_kind(set(_meta(open_clip_layout(), "cond_stage_model.model."))) == (
        "h", "open_clip", "cond_stage_model.model.")
    with pytest.raises(UnknownArchitecture):
        detect_clip_kind({"a.b"}, "z.pt")
