"""Image upscale models (UpscaleModelLoader, ImageUpscaleWithModel).

Loading: a ``module.``-prefixed state dict (SwinIR-style saves) is unprefixed; spandrel, when it imports (it
needs a torchvision that matches torch), loads it and must find a single-image model; otherwise the ESRGAN
family (original and BasicSR/Real-ESRGAN layouts) is loaded by ``host.models.esrgan``, and any other
architecture is an UnknownArchitecture saying spandrel is needed.

Upscaling, as ComfyUI's node: BHWC -> BCHW on the model's device, 512 px tiles overlapping by 32 (feathered
blend, ``vae_tiling.tiled``), one progress step per tile; on out-of-memory the tile is halved and the image
started again, down to 128; the result is clamped to [0, 1], back to BHWC.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from host.models.checkpoint import open_state_dict
from host.models.detect import describe_keys
from host.models.errors import ModelFileError, UnknownArchitecture, WeightMismatch
from host.models.esrgan import RRDBNet, rrdb_config_from_keys, to_original_layout

log = logging.getLogger("nodehost.models")

TILE, OVERLAP, MIN_TILE = 512, 32, 128


class NotAnImageModel(ModelFileError):
    """spandrel loaded the file, but it is not a single-image model (an inpainting or restoration model...)."""


@dataclass(eq=False)
class UpscaleModel:
    """The UPSCALE_MODEL value: ``model(x [B, C, H, W] in 0..1) -> [B, C', H*scale, W*scale]``."""

    model: Callable[[torch.Tensor], torch.Tensor]
    module: nn.Module
    scale: float
    architecture: str
    in_channels: int = 3
    path: Path | None = None
    device: Any = "cpu"

    def to(self, device: Any) -> UpscaleModel:
        self.module.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.module.parameters(), *self.module.buffers()))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(x)


def _spandrel() -> Any:
    """The spandrel module, None when it cannot be imported here."""
    try:
        import spandrel
    except Exception as e:  # ImportError, or a torchvision built for another torch
        log.debug("spandrel unavailable: %s", e)
        return None
    return spandrel


def _unprefix(sd: Any) -> dict[str, torch.Tensor]:
    tensors = {k: sd[k] for k in sd}
    if "module.layers.0.residual_group.blocks.0.norm1.weight" in tensors:
        tensors = {k[len("module."):] if k.startswith("module.") else k: v for k, v in tensors.items()}
    return tensors


def _with_spandrel(spandrel: Any, sd: dict[str, torch.Tensor], path: Path) -> UpscaleModel:
    try:
        desc = spandrel.ModelLoader().load_from_state_dict(sd).eval()
    except Exception as e:  # spandrel's UnsupportedModelError and shape errors
        raise UnknownArchitecture(path, f"spandrel cannot load it: {e}") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor):
        raise NotAnImageModel(path, "an upscale model must be a single-image model")
    return UpscaleModel(desc, desc.model, float(desc.scale), str(desc.architecture.name),
                        int(desc.input_channels), path)


def _with_rrdb(sd: dict[str, torch.Tensor], path: Path) -> UpscaleModel | None:
    sd = to_original_layout(sd)
    cfg = rrdb_config_from_keys(sd)
    if cfg is None:
        return None
    net = RRDBNet(cfg)
    try:
        net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    except RuntimeError as e:
        raise WeightMismatch(path, f"ESRGAN weights do not fit an RRDBNet: {str(e)[:400]}") from None
    net.eval().requires_grad_(False)
    return UpscaleModel(net, net, float(cfg.scale), "ESRGAN", cfg.in_nc // cfg.unshuffle ** 2, path)


def load_upscale_model(path: str | Path, *, use_spandrel: bool = True) -> UpscaleModel:
    """The upscale model in ``path`` (on the CPU, fp32)."""
    path = Path(path)
    sd = _unprefix(open_state_dict(path))
    spandrel = _spandrel() if use_spandrel else None
    if spandrel is not None:
        return _with_spandrel(spandrel, sd, path)
    model = _with_rrdb(sd, path)
    if model is None:
        raise UnknownArchitecture(path, "not an ESRGAN-family model, and spandrel (which loads the other "
                                        f"architectures) cannot be imported here: {describe_keys(list(sd))}")
    return model


def tile_count(height: int, width: int, tile: int, overlap: int) -> int:
    return math.ceil(height / (tile - overlap)) * math.ceil(width / (tile - overlap))


def upscale_image(model: UpscaleModel, image: torch.Tensor, tile: int = TILE, overlap: int = OVERLAP,
                  progress: Callable[[int, int], None] | None = None, min_tile: int = MIN_TILE) -> torch.Tensor:
    """``image`` [B, H, W, C] upscaled by the model, tiled; a smaller tile after an out-of-memory error."""
    from host.models.vae_tiling import tiled

    x = image.movedim(-1, -3).float().to(model.device)
    while True:
        step = _counting(model, x.shape[0] * tile_count(x.shape[2], x.shape[3], tile, overlap), progress)
        try:
            out = torch.cat([tiled(step, x[i:i + 1], tile, tile, overlap, model.scale, _out_channels(model, x))
                             for i in range(x.shape[0])])
            break
        except torch.OutOfMemoryError:
            if tile // 2 < min_tile:
                raise
            tile //= 2
            log.warning("upscale: out of memory, retrying with %d px tiles", tile)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return torch.clamp(out.movedim(-3, -1), 0.0, 1.0)


def _counting(model: UpscaleModel, total: int,
              progress: Callable[[int, int], None] | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model, reporting (tiles done, total) after each tile."""
    done = [0]

    def step(t: torch.Tensor) -> torch.Tensor:
        out = model(t)
        done[0] += t.shape[0]
        if progress is not None:
            progress(min(done[0], total), total)
        return out

    return step


def _out_channels(model: UpscaleModel, x: torch.Tensor) -> int:
    cfg = getattr(model.module, "config", None)
    return int(getattr(cfg, "out_nc", getattr(model.model, "output_channels", x.shape[1])))


__all__ = ["NotAnImageModel", "UpscaleModel", "load_upscale_model", "tile_count", "upscale_image"]
