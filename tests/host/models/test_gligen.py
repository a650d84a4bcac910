"""GLIGEN: the file layout, one fuser per UNet transformer block in block order, grounding tokens from boxes,
the patched UNet call (and the UNet unpatched after it), bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host.models.errors import UnknownArchitecture, WeightMismatch
from host.models.gligen import MAX_OBJECTS, fourier, gligen_call, load_gligen
from host.models.testing.control_layouts import SMALL_UNET, gligen_layout, write_random
from host.models.testing.layouts import SD15_UNET, unet_layout
from host.models.unet import UNetModel
from host.models.unet_config import unet_config_from_keys

pytestmark = pytest.mark.timeout(120)


class _Shapes(dict):
    def shape(self, key: str) -> tuple[int, ...]:
        return self[key]


def test_sd15_layout_has_a_fuser_per_transformer_block() -> None:
    fusers = {k.split(".fuser.")[0] for k in gligen_layout(SD15_UNET) if ".fuser." in k}
    assert len(fusers) == 16 and "middle_block.1.transformer_blocks.0" in fusers


def test_fourier_features() -> None:
    x = torch.tensor([[0.25, 0.5, 0.75, 1.0]])
    f = fourier(x)
    assert f.shape == (1, 64) and torch.allclose(f[0, :4], torch.sin(x[0])) and torch.allclose(f[0, 4:8],
                                                                                              torch.cos(x[0]))


def test_grounded_unet_call(tmp_path: Path) -> None:
    gligen = load_gligen(write_random(gligen_layout(SMALL_UNET), tmp_path / "gligen.safetensors",
                                      dtype=torch.float32))
    assert len(gligen.fusers) == 4 and gligen.key_dim == 768
    torch.manual_seed(0)
    unet = UNetModel(unet_config_from_keys(_Shapes(unet_layout(SMALL_UNET)), "")).eval()
    x, t, ctx = torch.randn(2, 4, 8, 8), torch.tensor([300.0, 300.0]), torch.randn(2, 77, 768)
    box = (torch.randn(1, 768), 4, 4, 0, 2)  # h, w, y, x in latent pixels
    tokens = gligen.tokens((2, 4, 8, 8), [box], "cpu")
    assert tokens.shape == (2, MAX_OBJECTS, 768)
    with torch.no_grad():
        plain = unet(x, t, ctx)
        with gligen_call(unet, ("position", gligen, [box]), x):
            grounded = unet(x, t, ctx)
        after = unet(x, t, ctx)
    assert (grounded - plain).abs().mean() > 1e-4 and torch.equal(after, plain)
    other = UNetModel(unet_config_from_keys(_Shapes(unet_layout(SMALL_UNET.__class__(
        **{**SMALL_UNET.__dict__, "num_res_blocks": 2}))), "")).eval()
    with pytest.raises(WeightMismatch, match="fusers"), gligen_call(other, ("position", gligen, [box]), x):
        pass


def test_not_a_gligen_file(tmp_path: Path) -> None:
    with pytest.raises(UnknownArchitecture, match="GLIGEN"):
        load_gligen(write_random({"foo.weight": (2,)}, tmp_path / "x.safetensors"))
