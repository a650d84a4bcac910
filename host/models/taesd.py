"""The TAESD decoder (madebyollin/taesd, MIT): a tiny convolutional decoder from SD latents to pixels, for latent
previews (``--preview-method taesd|auto`` with ``taesd_decoder.*`` / ``taesdxl_decoder.*`` in
``models/vae_approx``). Attribute names = the published file's keys (a flat ``nn.Sequential``: ``1.weight``,
``3.conv.0.weight``, ..., ``19.bias``).

Input: the sampler's denoised estimate in its scaled latent space (what TAESD was trained on); output [B, 3,
8h, 8w] in 0..1 (clamped for display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from host.models.checkpoint import open_state_dict
from host.models.errors import UnknownArchitecture
from host.models.lazy import check_weights, materialize

WIDTH = 64


class Clamp(nn.Module):
    """Soft clamp of the latent to about ±3: 3·tanh(x/3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3.0) * 3.0


def _conv(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


class Block(nn.Module):
    """relu(conv-relu-conv-relu-conv(x) + x)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(ch, ch), nn.ReLU(), _conv(ch, ch), nn.ReLU(), _conv(ch, ch))
        self.skip = nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + self.skip(x))


def decoder(latent_channels: int = 4) -> nn.Sequential:
    """Clamp, conv in, then three times (3 blocks, 2x nearest upsample, conv without bias), a block, conv out."""
    layers: list[nn.Module] = [Clamp(), _conv(latent_channels, WIDTH), nn.ReLU()]
    for _ in range(3):
        layers += [Block(WIDTH), Block(WIDTH), Block(WIDTH), nn.Upsample(scale_factor=2),
                   _conv(WIDTH, WIDTH, bias=False)]
    layers += [Block(WIDTH), _conv(WIDTH, 3)]
    return nn.Sequential(*layers)


def load_decoder(path: str | Path, device: Any = "cpu") -> nn.Sequential:
    """A TAESD decoder file (its keys checked against the architecture), fp32 on ``device``."""
    path = Path(path)
    sd = open_state_dict(path)
    if "1.weight" not in sd or len(sd.shape("1.weight")) != 4:
        raise UnknownArchitecture(path, "not a TAESD decoder (no 1.weight conv)")
    with torch.device("meta"):
        model = decoder(sd.shape("1.weight")[1])
    materialize(model, check_weights(model, sd, "", path), torch.float32, device)
    return model


@torch.no_grad()
def preview(model: nn.Module, x0: torch.Tensor) -> Any:
    """A PIL image of batch item 0 of ``x0`` decoded by ``model``: uint8 of clamp(y, 0, 1) * 255, truncated."""
    from PIL import Image

    weight = next(model.parameters())
    y = model(x0[:1].detach().to(weight.device, weight.dtype))[0]
    pixels = (y.clamp(0.0, 1.0) * 255.0).to(torch.uint8).movedim(0, -1).cpu()
    return Image.fromarray(pixels.numpy())


__all__ = ["decoder", "load_decoder", "preview"]
