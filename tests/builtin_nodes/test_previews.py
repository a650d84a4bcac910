"""Latent2RGB previews (MODELS_FACTS §10): SD1 factors, (rgb + 1) / 2 truncated to uint8, latent resolution."""

from __future__ import annotations

import numpy as np
import torch

from builtin_nodes.previews import previewer
from host.models.sampling.preview import SD1_LATENT_RGB as SD1_FACTORS
from host.models.sampling.preview import latent_preview_image


def test_latent2rgb_is_the_factor_product_truncated() -> None:
    z = torch.randn(2, 4, 3, 5)
    image = np.asarray(latent_preview_image(z, SD1_FACTORS))
    rgb = np.einsum("chw,cr->hwr", z[0].numpy(), np.array(SD1_FACTORS, dtype=np.float32))
    expected = (np.clip((rgb + 1) / 2, 0, 1) * 255).astype(np.uint8)
    assert image.shape == (3, 5, 3) and np.abs(image.astype(int) - expected).max() <= 1


def test_previewer_by_method_and_model() -> None:
    class Model:
        latent_channels = 4

    assert previewer("none", Model()) is None
    fmt, image, size = previewer("latent2rgb", Model())(torch.zeros(1, 4, 8, 8))
    assert (fmt, image.size, size) == ("JPEG", (8, 8), 512)
    assert np.asarray(image).max() == 127  # zero latent -> (0 + 1) / 2 * 255 = 127.5, truncated

    class ThreeChannels:
        latent_channels = 3

    assert previewer("auto", ThreeChannels()) is None
