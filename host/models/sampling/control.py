"""ControlNet and T2I-Adapter control while sampling, as ComfyUI applies it (``comfy/controlnet.py``,
``samplers.py``).

A CONTROL_NET value (:class:`ControlModel`) is applied to conditioning entries as a :class:`Control`: the hint
image, a strength, a start/end percent and the control that entry carried before (chained: its residuals are
computed too and summed with these). At each model call the sampler asks the batch's control for residuals:

- outside [start, end] (sigma > sigma(start) or < sigma(end)) only the previous control's are given;
- the hint (BCHW, 0..1) is resized to 8x the latent crop, nearest-exact, centre-cropped to its aspect ratio,
  and broadcast to the batch; a one-channel adapter gets the channel mean;
- a ControlNet sees c_in·x, the integer timestep, the batch's context (and y); an adapter sees only the hint,
  so its features are computed once per hint size;
- every residual is multiplied by the strength (with global average pooling for ``*_shuffle`` files), then
  added to the previous control's list element-wise (a missing one is taken as is).

ControlNetApply (OLD) marks its entries to be shared with the negative: when no negative entry without an area
carries a control, each such positive control goes to the negative entries without area in turn
(``apply_empty_x_to_equal_area``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Residuals = dict[str, list[Tensor | None]]


def resize_hint(hint: Tensor, width: int, height: int, method: str = "nearest-exact") -> Tensor:
    """``hint`` [B,C,H,W] centre-cropped to the aspect ratio of width x height, then resized to it."""
    old_h, old_w = hint.shape[-2:]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    cropped = hint[..., y:old_h - y, x:old_w - x]
    return F.interpolate(cropped, size=(height, width), mode=method)


def broadcast_hint(hint: Tensor, batch: int, batched: int) -> Tensor:
    """A hint batch matched to ``batch`` = ``batched`` conds x per-cond batch (one image broadcasts as is)."""
    if hint.shape[0] == 1 or hint.shape[0] == batch:
        return hint
    per = batch // batched
    hint = hint[:per]
    if per > hint.shape[0]:
        hint = torch.cat([hint] * (per // hint.shape[0]) + [hint[: per % hint.shape[0]]])
    return hint if hint.shape[0] == batch else torch.cat([hint] * batched)


@dataclass(eq=False)
class ControlModel:
    """The CONTROL_NET value: a ControlNetModel ("controlnet") or T2IAdapter ("t2i") and how to run it."""

    model: nn.Module
    kind: str
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    global_average_pooling: bool = False
    path: Path | None = None
    #: the hint's size is this many times the latent's
    compression: int = 8

    def to(self, device: Any) -> ControlModel:
        self.model.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.model.parameters(), *self.model.buffers()))

    def apply(self, hint: Tensor, strength: float = 1.0, start_percent: float = 0.0, end_percent: float = 1.0,
              previous: Control | None = None) -> Control:
        """This model applied with an IMAGE-derived hint [B,C,H,W] in 0..1."""
        return Control(self, hint, float(strength), float(start_percent), float(end_percent), previous)


@dataclass(eq=False)
class Control:
    """One application of a ControlModel: what a conditioning entry's ``"control"`` holds."""

    net: ControlModel
    hint: Tensor
    strength: float = 1.0
    start_percent: float = 0.0
    end_percent: float = 1.0
    previous: Control | None = None
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def chain(self) -> list[Control]:
        """This control and every previous one, oldest first."""
        out, c = [], self
        while c is not None:
            out.append(c)
            c = c.previous
        return out[::-1]

    def _hint(self, x: Tensor, batched: int) -> Tensor:
        key = ("hint", tuple(x.shape[2:]), x.device, x.shape[0], batched)
        if key not in self._cache:
            scale = self.net.compression
            hint = resize_hint(self.hint.float().to(x.device), x.shape[3] * scale, x.shape[2] * scale)
            if self.net.kind == "t2i" and getattr(self.net.model, "hint_channels", 3) == 1 and hint.shape[1] > 1:
                hint = hint.mean(dim=1, keepdim=True)
            self._cache.clear()
            self._cache[key] = broadcast_hint(hint, x.shape[0], batched)
        return self._cache[key]

    def _run(self, x_in: Tensor, t: Tensor, context: Tensor, y: Tensor | None, batched: int) -> Residuals:
        net, dtype = self.net, self.net.dtype
        if str(net.device) != str(x_in.device):
            net.to(x_in.device)
        hint = self._hint(x_in, batched).to(dtype)
        with torch.no_grad():
            if net.kind == "t2i":
                key = ("features", tuple(hint.shape), hint.device)
                if key not in self._cache:
                    self._cache[key] = net.model(hint)
                out = self._cache[key]
            else:
                out = net.model(x_in.to(dtype), hint, t.float(), context.to(dtype),
                                y=None if y is None else y.to(dtype))
        return {place: [None if r is None else self._scaled(r) for r in rs] for place, rs in out.items()}

    def _scaled(self, r: Tensor) -> Tensor:
        if self.net.global_average_pooling:
            r = r.mean(dim=(2, 3), keepdim=True).expand(r.shape)
        return r * self.strength

    def residuals(self, x_in: Tensor, t: Tensor, sigma: Tensor, context: Tensor, y: Tensor | None, batched: int,
                  ms: Any) -> Residuals | None:
        """The summed residuals of this control and its previous ones for one model call (None: nothing);
        ``x_in`` is c_in·x of the call's batch, ``t`` its timesteps, ``batched`` the number of conds in it."""
        prev = self.previous.residuals(x_in, t, sigma, context, y, batched, ms) if self.previous else None
        s = float(sigma[0])
        if s > ms.percent_to_sigma(self.start_percent) or s < ms.percent_to_sigma(self.end_percent):
            return prev
        return merge(self._run(x_in, t, context, y, batched), prev)


def merge(current: Residuals, prev: Residuals | None) -> Residuals:
    """``current`` plus ``prev`` element-wise by place; where one side has no entry the other's is kept."""
    out = {place: list(rs) for place, rs in current.items()}
    for place, rs in (prev or {}).items():
        mine = out.setdefault(place, [])
        for i, r in enumerate(rs):
            if i >= len(mine):
                mine.append(r)
            elif r is not None:
                mine[i] = r if mine[i] is None else r + mine[i]
    return out


def share_with_uncond(positive: list[Any], negative: list[Any], name: str = "control") -> None:
    """The positive entries' ``name`` (a Control, or GLIGEN's grounding) given to the negative entries without
    an area, in turn, unless one of those has its own (``apply_empty_x_to_equal_area``); controls only from
    ControlNetApply's entries (``control_to_uncond``)."""
    given = [getattr(c, name) for c in positive if c.area is None and getattr(c, name) is not None
             and (name != "control" or c.control_to_uncond)]
    if not given or any(c.area is None and getattr(c, name) is not None for c in negative):
        return
    plain = [i for i, c in enumerate(negative) if c.area is None and getattr(c, name) is None]
    if not plain:
        return
    originals = {i: negative[i] for i in plain}
    for n, value in enumerate(given):
        i = plain[n % len(plain)]
        negative[i] = replace(originals[i], **{name: value})


__all__ = ["Control", "ControlModel", "broadcast_hint", "merge", "resize_hint", "share_with_uncond"]
