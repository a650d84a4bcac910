"""Tiled VAE passes: tiles start every ``tile - overlap`` pixels (the last ones shifted back inside), each result
is weighted by a mask rising linearly over ``overlap`` (output pixels) at all four edges, and the weighted sum is
divided by the summed weights (ComfyUI's ``tiled_scale`` blending)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def _mask(h: int, w: int, feather: int) -> torch.Tensor:
    mask = torch.ones(h, w)
    for t in range(feather):
        a = (t + 1) / feather
        mask[t, :] *= a
        mask[h - 1 - t, :] *= a
        mask[:, t] *= a
        mask[:, w - 1 - t] *= a
    return mask


def _starts(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    out = []
    for p in range(0, size, max(tile - overlap, 1)):
        pos = max(0, min(size - overlap, p))
        out.append((pos, min(tile, size - pos)))
    return out


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile_x: int, tile_y: int, overlap: int,
          scale: float, out_channels: int, channels_last: bool = False) -> torch.Tensor:
    """Apply ``fn`` to overlapping [B,C,tile_y,tile_x] tiles of x and blend the results (scaled by ``scale``)."""
    b, _, h, w = x.shape
    oh, ow = round(h * scale), round(w * scale)
    out = torch.zeros(b, out_channels, oh, ow)
    weight = torch.zeros(1, 1, oh, ow)
    feather = round(overlap * scale)
    for y, th in _starts(h, tile_y, overlap):
        for xx, tw in _starts(w, tile_x, overlap):
            res = fn(x[:, :, y:y + th, xx:xx + tw]).float().cpu()
            if channels_last:
                res = res.movedim(-1, 1)
            ty, tx = round(y * scale), round(xx * scale)
            rh, rw = res.shape[2], res.shape[3]
            mask = _mask(rh, rw, min(feather, rh // 2, rw // 2))[None, None]
            out[:, :, ty:ty + rh, tx:tx + rw] += res * mask
            weight[:, :, ty:ty + rh, tx:tx + rw] += mask
    out = out / weight.clamp_min(1e-12)
    return out.movedim(1, -1) if channels_last else out


__all__ = ["tiled"]
