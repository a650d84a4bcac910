"""Tiled VAE passes (MODELS_FACTS §8): overlapping tiles, each feathered linearly over the overlap, averaged."""

from __future__ import annotations

from collections.abc import Callable

import torch


def _feather(h: int, w: int, fh: int, fw: int) -> torch.Tensor:
    """A [h, w] weight mask rising linearly over ``fh``/``fw`` pixels at every edge."""
    def ramp(n: int, f: int) -> torch.Tensor:
        r = torch.ones(n)
        for i in range(min(f, n // 2)):
            r[i] = r[n - 1 - i] = (i + 1) / (f + 1)
        return r

    return ramp(h, fh)[:, None] * ramp(w, fw)[None, :]


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile_x: int, tile_y: int, overlap: int,
          scale: float, out_channels: int, channels_last: bool = False) -> torch.Tensor:
    """Apply ``fn`` to overlapping [B,C,tile_y,tile_x] tiles of x and blend the results (scaled by ``scale``)."""
    b, _, h, w = x.shape
    oh, ow = round(h * scale), round(w * scale)
    out = torch.zeros(b, out_channels, oh, ow)
    weight = torch.zeros(1, 1, oh, ow)
    step_y, step_x = max(tile_y - overlap, 1), max(tile_x - overlap, 1)
    for y in range(0, max(h - overlap, 1), step_y):
        for xx in range(0, max(w - overlap, 1), step_x):
            tile = x[:, :, y:y + tile_y, xx:xx + tile_x]
            res = fn(tile).float().cpu()
            if channels_last:
                res = res.movedim(-1, 1)
            ty, tx = round(y * scale), round(xx * scale)
            th, tw = res.shape[2], res.shape[3]
            f = round(overlap * scale)
            mask = _feather(th, tw, f if y else 0, f if xx else 0)[None, None]
            out[:, :, ty:ty + th, tx:tx + tw] += res * mask
            weight[:, :, ty:ty + th, tx:tx + tw] += mask
    out = out / weight.clamp_min(1e-8)
    return out.movedim(1, -1) if channels_last else out


__all__ = ["tiled"]
