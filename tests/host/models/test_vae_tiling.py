"""Tiled passes blend to the untiled result for a pointwise function, whatever the tiles and overlap."""

from __future__ import annotations

import pytest
import torch

from host.models.vae_tiling import tiled


@pytest.mark.parametrize(("h", "w", "tile", "overlap"), [(20, 20, 8, 2), (17, 9, 8, 4), (8, 8, 64, 16), (33, 5, 6, 0)])
def test_pointwise_blend_is_exact(h: int, w: int, tile: int, overlap: int) -> None:
    x = torch.randn(2, 4, h, w)

    def up(t: torch.Tensor) -> torch.Tensor:
        return t.repeat_interleave(8, 2).repeat_interleave(8, 3)[:, :3].movedim(1, -1)

    out = tiled(up, x, tile, tile, overlap, 8, 3, channels_last=True)
    assert (out - up(x)).abs().max() < 1e-5


def test_encode_direction_downscales() -> None:
    x = torch.randn(1, 3, 64, 48)
    out = tiled(lambda t: t[:, :, ::8, ::8].repeat(1, 2, 1, 1)[:, :4], x, 32, 32, 8, 1 / 8, 4)
    assert out.shape == (1, 4, 8, 6)
