"""EmptyLatentImage, LatentUpscale(By) (sizes, aspect from one side, every method, bislerp), SetLatentNoiseMask."""

from __future__ import annotations

import pytest
import torch

from builtin_nodes.latent import (
    LATENT_UPSCALE_METHODS,
    EmptyLatentImage,
    LatentUpscale,
    LatentUpscaleBy,
    SetLatentNoiseMask,
    bislerp,
)


def test_empty_latent_shape_and_zeros() -> None:
    [latent] = EmptyLatentImage().generate(200, 120, 3)
    assert set(latent) == {"samples"}
    assert latent["samples"].shape == (3, 4, 15, 25) and latent["samples"].dtype == torch.float32
    assert not latent["samples"].any()


@pytest.mark.parametrize("method", LATENT_UPSCALE_METHODS)
def test_upscale_to_size(method: str) -> None:
    lat = {"samples": torch.randn(2, 4, 8, 12), "batch_index": [3, 4]}
    [out] = LatentUpscale().upscale(lat, method, 192, 128, "disabled")
    assert out["samples"].shape == (2, 4, 16, 24) and out["batch_index"] == [3, 4]
    assert lat["samples"].shape == (2, 4, 8, 12)  # the input is not modified


def test_upscale_zero_sizes() -> None:
    lat = {"samples": torch.randn(1, 4, 8, 16)}
    [same] = LatentUpscale().upscale(lat, "bilinear", 0, 0, "disabled")
    assert same is lat
    [out] = LatentUpscale().upscale(lat, "bilinear", 0, 128, "disabled")  # width from the aspect ratio: 256
    assert out["samples"].shape == (1, 4, 16, 32)
    [small] = LatentUpscale().upscale(lat, "bilinear", 16, 16, "disabled")  # at least 64 pixels
    assert small["samples"].shape == (1, 4, 8, 8)


def test_upscale_center_crop_keeps_the_middle() -> None:
    lat = torch.arange(16.0).reshape(1, 1, 1, 16).expand(1, 4, 16, 16).contiguous()
    [out] = LatentUpscale().upscale({"samples": lat}, "nearest-exact", 64, 128, "center")
    assert out["samples"].shape == (1, 4, 16, 8)
    assert out["samples"][0, 0, 0].tolist() == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]


def test_upscale_by_rounds() -> None:
    [out] = LatentUpscaleBy().upscale({"samples": torch.randn(1, 4, 8, 10)}, "bicubic", 1.5)
    assert out["samples"].shape == (1, 4, 12, 15)


def test_bislerp_keeps_constant_fields_and_interpolates_directions() -> None:
    vec = torch.tensor([1.0, -2.0, 0.5, 3.0]).reshape(1, 4, 1, 1)
    assert torch.allclose(bislerp(vec.expand(1, 4, 4, 4), 8, 6), vec.expand(1, 4, 6, 8), atol=1e-5)
    two = torch.zeros(1, 4, 1, 2)
    two[0, 0, 0, 0], two[0, 1, 0, 1] = 1.0, 1.0  # orthogonal unit vectors
    mid = bislerp(two, 4, 1)[0, :, 0]  # [4 channels, 4 columns]
    assert torch.allclose(mid.norm(dim=0), torch.ones(4), atol=1e-5)  # stays on the unit sphere (lerp would not)


def test_set_latent_noise_mask() -> None:
    lat = {"samples": torch.zeros(1, 4, 8, 8)}
    [out] = SetLatentNoiseMask().set_mask(lat, torch.ones(64, 64))
    assert out["noise_mask"].shape == (1, 1, 64, 64) and "noise_mask" not in lat
