"""The UNet built from a config read off the keys has exactly the real SD1.5/SD2.1 keys and shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from host.models.testing.layouts import SD15_UNET, SD21_UNET, unet_layout
from host.models.unet import UNetModel
from host.models.unet_config import SD15, SD21, unet_config_from_keys

SHARED_TOOL = Path("/work/shared/tools/make_sd15_checkpoint.py")


def _meta(shapes: dict[str, tuple[int, ...]], prefix: str = "model.diffusion_model.") -> dict[str, torch.Tensor]:
    return {prefix + k: torch.empty(s, device="meta") for k, s in shapes.items()}


def _built(cfg) -> dict[str, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in UNetModel(cfg).state_dict().items()}


@pytest.mark.parametrize(("layout", "expected"), [(SD15_UNET, SD15), (SD21_UNET, SD21)])
def test_config_from_keys(layout, expected) -> None:  # type: ignore[no-untyped-def]
    assert unet_config_from_keys(_meta(unet_layout(layout))) == expected


@pytest.mark.parametrize("layout", [SD15_UNET, SD21_UNET])
def test_full_size_unet_has_every_real_key(layout) -> None:  # type: ignore[no-untyped-def]
    real = unet_layout(layout)
    ours = _built(unet_config_from_keys(_meta(real)))
    assert len(real) == 686
    assert set(ours) == set(real)
    assert {k for k in real if ours[k] != real[k]} == set()


@pytest.mark.skipif(not SHARED_TOOL.exists(), reason="../shared is not beside the checkout")
@pytest.mark.parametrize("variant", ["sd15", "tiny"])
def test_matches_the_reference_tool(variant: str) -> None:
    sys.path.insert(0, str(SHARED_TOOL.parent))
    try:
        import make_sd15_checkpoint as tool
    finally:
        sys.path.remove(str(SHARED_TOOL.parent))
    real = {k: tuple(v) for k, v in tool.unet_shapes(**tool.VARIANTS[variant]).items()}
    assert _built(unet_config_from_keys(_meta(real))) == real


def test_tiny_forward_pass_shapes_and_finite() -> None:
    cfg = SD15.__class__(model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1), input_depths=(1, 0),
                         output_depths=(0, 0, 1, 1), context_dim=64, num_heads=2)
    torch.manual_seed(0)
    unet = UNetModel(cfg).eval()
    x = torch.randn(2, 4, 9, 7)  # odd sizes: the up path resizes to each skip's size
    with torch.no_grad():
        out = unet(x, torch.tensor([999.0, 10.0]), context=torch.randn(2, 77, 64))
    assert out.shape == x.shape and torch.isfinite(out).all()
    with torch.no_grad():
        other = unet(x, torch.tensor([500.0, 10.0]), context=torch.randn(2, 77, 64))
    assert not torch.allclose(out[0], other[0])
