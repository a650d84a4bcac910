"""LoRA-family weight deltas, as ComfyUI computes them (reading them from a file: host.models.lora_read).

Every delta is computed in fp32 on the weight's device and added to an fp32 copy of the weight:
``W' = W·strength_model + strength·scale·ΔW`` with ``scale = alpha / rank`` (1 without an alpha).

* LoRA / LoCon (kohya ``lora_up``/``lora_down``, diffusers ``_lora.up``/``.lora.up``, PEFT ``lora_B``/``lora_A``):
  ΔW = up·down, rank = down's first dim; a LoCon ``lora_mid`` (Tucker core of a conv) folds into ``down`` first.
* LoHa (LyCORIS ``hada_*``): ΔW = (w1a·w1b) ⊙ (w2a·w2b), rank = w1b's first dim; with ``hada_t1/t2`` (CP) each
  factor is t ×₁ a ×₂ b.
* LoKr (LyCORIS ``lokr_*``): ΔW = w1 ⊗ w2 (Kronecker); a factor given as ``_a``/``_b`` is their product, and only
  then is alpha divided by that rank.
* ``diff`` / ``diff_b`` (full weight/bias differences), ``set_weight``, ``w_norm``/``b_norm``.
* DoRA (``dora_scale``): the LoRA-updated weight is renormalised to the stored magnitude.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger("nodehost.models")
Function = Callable[[Tensor], Tensor]


def _identity(t: Tensor) -> Tensor:
    return t


def _f32(t: Tensor, device: Any) -> Tensor:
    return t.to(device=device, dtype=torch.float32)


def _pad_to(weight: Tensor, shape: list[int]) -> Tensor:
    """``weight`` zero-padded (at the end of each dim) to ``shape`` (``reshape_weight``/``pad_weight``)."""
    if list(weight.shape) == list(shape):
        return weight
    out = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
    out[tuple(slice(0, s) for s in weight.shape)] = weight
    return out


def _dora(dora_scale: Tensor, weight: Tensor, diff: Tensor, alpha: float, strength: float, fn: Function) -> Tensor:
    """DoRA: W + αΔW rescaled per output (or input) channel to the stored magnitude, then blended by strength."""
    scale = _f32(dora_scale, weight.device)
    updated = weight + fn(diff * alpha).to(weight.dtype)
    if scale.shape[0] == updated.shape[0]:
        norm = weight.reshape(weight.shape[0], -1).norm(dim=1, keepdim=True)
        norm = norm.reshape(weight.shape[0], *[1] * (weight.dim() - 1))
    else:
        t = updated.transpose(0, 1)
        norm = t.reshape(t.shape[0], -1).norm(dim=1, keepdim=True).reshape(t.shape[0], *[1] * (t.dim() - 1))
        norm = norm.transpose(0, 1)
    updated = updated * (scale / (norm + torch.finfo(weight.dtype).eps)).to(weight.dtype)
    if strength != 1.0:
        weight += strength * (updated - weight)
    else:
        weight[:] = updated
    return weight


class Adapter:
    """One weight's delta. ``apply`` adds it to ``weight`` (fp32, modified in place and returned);
    ``fits(shape)`` says whether it can patch a weight of that shape."""

    name = "adapter"
    dora_scale: Tensor | None = None

    def delta(self, shape: torch.Size, device: Any) -> Tensor:
        raise NotImplementedError

    def scale(self) -> float:
        return 1.0

    def numel(self) -> int:
        raise NotImplementedError

    def fits(self, shape: tuple[int, ...]) -> bool:
        return self.numel() == math.prod(shape)

    def apply(self, weight: Tensor, strength: float, fn: Function = _identity) -> Tensor:
        diff = self.delta(weight.shape, weight.device)
        if self.dora_scale is not None:
            return _dora(self.dora_scale, weight, diff, self.scale(), strength, fn)
        weight += fn((strength * self.scale()) * diff).to(weight.dtype)
        return weight


@dataclass(eq=False)
class LoRA(Adapter):
    up: Tensor
    down: Tensor
    alpha: float | None = None
    mid: Tensor | None = None
    dora_scale: Tensor | None = None
    reshape: list[int] | None = None
    name = "lora"

    def scale(self) -> float:
        return self.alpha / self.down.shape[0] if self.alpha is not None else 1.0

    def numel(self) -> int:
        tail = math.prod(self.down.shape[1:]) if self.mid is None else self.down.shape[1] * math.prod(
            self.mid.shape[2:])
        return self.up.shape[0] * tail

    def fits(self, shape: tuple[int, ...]) -> bool:
        return self.reshape is not None or (super().fits(shape) and self.up.shape[0] == shape[0])

    def factors(self, device: Any) -> tuple[Tensor, Tensor]:
        """(up [out, r], down [r, in·k]) in fp32: ΔW = up·down."""
        up, down = _f32(self.up, device), _f32(self.down, device)
        if self.mid is not None:  # LoCon Tucker core: [r, in, 1, 1] x [r, r, kh, kw] -> [r, in, kh, kw]
            mid = _f32(self.mid, device)
            final = [down.shape[1], down.shape[0], mid.shape[2], mid.shape[3]]
            down = torch.mm(down.transpose(0, 1).flatten(1), mid.transpose(0, 1).flatten(1))
            down = down.reshape(final).transpose(0, 1)
        return up.flatten(1), down.flatten(1)

    def delta(self, shape: torch.Size, device: Any) -> Tensor:
        return torch.mm(*self.factors(device)).reshape(shape)

    def apply(self, weight: Tensor, strength: float, fn: Function = _identity) -> Tensor:
        if self.reshape is not None:
            weight = _pad_to(weight, self.reshape)
        if (fn is _identity and self.dora_scale is None and weight.dtype == torch.float32
                and weight.is_contiguous()):
            # W += (strength·scale)·(up·down) as one GEMM into the weight (the same products and sums as the
            # product, scaling and add done apart): no ΔW-sized temporaries
            up, down = self.factors(weight.device)
            weight.view(weight.shape[0], -1).addmm_(up, down, alpha=strength * self.scale())
            return weight
        return super().apply(weight, strength, fn)


def _cp(t: Tensor, b: Tensor, a: Tensor) -> Tensor:
    """CP/Tucker reconstruction of a conv factor: t [r, r, kh, kw], b [r, in], a [r, out] -> [out, in, kh, kw]."""
    return torch.einsum("i j k l, j r, i p -> p r k l", t, b, a)


@dataclass(eq=False)
class LoHa(Adapter):
    w1a: Tensor
    w1b: Tensor
    w2a: Tensor
    w2b: Tensor
    alpha: float | None = None
    t1: Tensor | None = None
    t2: Tensor | None = None
    dora_scale: Tensor | None = None
    name = "loha"

    def scale(self) -> float:
        return self.alpha / self.w1b.shape[0] if self.alpha is not None else 1.0

    def numel(self) -> int:
        if self.t1 is not None:
            return self.w1a.shape[1] * self.w1b.shape[1] * math.prod(self.t1.shape[2:])
        return self.w1a.shape[0] * self.w1b.shape[1]

    def delta(self, shape: torch.Size, device: Any) -> Tensor:
        w1a, w1b, w2a, w2b = (_f32(t, device) for t in (self.w1a, self.w1b, self.w2a, self.w2b))
        if self.t1 is not None and self.t2 is not None:
            m1, m2 = _cp(_f32(self.t1, device), w1b, w1a), _cp(_f32(self.t2, device), w2b, w2a)
        else:
            m1, m2 = torch.mm(w1a, w1b), torch.mm(w2a, w2b)
        return (m1 * m2).reshape(shape)


@dataclass(eq=False)
class LoKr(Adapter):
    w1: Tensor | None = None
    w2: Tensor | None = None
    alpha: float | None = None
    w1a: Tensor | None = None
    w1b: Tensor | None = None
    w2a: Tensor | None = None
    w2b: Tensor | None = None
    t2: Tensor | None = None
    dora_scale: Tensor | None = None
    name = "lokr"

    def _rank(self) -> int | None:
        if self.w2 is None and self.w2b is not None:
            return self.w2b.shape[0]
        if self.w1 is None and self.w1b is not None:
            return self.w1b.shape[0]
        return None

    def scale(self) -> float:
        rank = self._rank()
        return self.alpha / rank if self.alpha is not None and rank is not None else 1.0

    def _factor_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        s1 = tuple(self.w1.shape) if self.w1 is not None else (self.w1a.shape[0], self.w1b.shape[1])  # type: ignore[union-attr]
        if self.w2 is not None:
            s2 = tuple(self.w2.shape)
        elif self.t2 is not None:
            s2 = (self.w2a.shape[1], self.w2b.shape[1], *self.t2.shape[2:])  # type: ignore[union-attr]
        else:
            s2 = (self.w2a.shape[0], self.w2b.shape[1])  # type: ignore[union-attr]
        return s1, s2

    def numel(self) -> int:
        s1, s2 = self._factor_shapes()
        return math.prod(s1) * math.prod(s2)

    def delta(self, shape: torch.Size, device: Any) -> Tensor:
        if self.w1 is not None:
            w1 = _f32(self.w1, device)
        else:
            w1 = torch.mm(_f32(self.w1a, device), _f32(self.w1b, device))  # type: ignore[arg-type]
        if self.w2 is not None:
            w2 = _f32(self.w2, device)
        elif self.t2 is not None:
            w2 = _cp(_f32(self.t2, device), _f32(self.w2b, device), _f32(self.w2a, device))  # type: ignore[arg-type]
        else:
            w2 = torch.mm(_f32(self.w2a, device), _f32(self.w2b, device))  # type: ignore[arg-type]
        if w2.dim() == 4:
            w1 = w1[:, :, None, None]
        return torch.kron(w1, w2).reshape(shape)


@dataclass(eq=False)
class Diff(Adapter):
    """A full difference (``diff``, ``diff_b``, ``w_norm``, ``b_norm``; ComfyUI's ``("diff", (t,))``)."""

    diff: Tensor
    pad_weight: bool = False
    name = "diff"

    def numel(self) -> int:
        return self.diff.numel()

    def fits(self, shape: tuple[int, ...]) -> bool:
        return self.pad_weight or tuple(self.diff.shape) == tuple(shape)

    def apply(self, weight: Tensor, strength: float, fn: Function = _identity) -> Tensor:
        if self.pad_weight and self.diff.shape != weight.shape:
            weight = _pad_to(weight, list(self.diff.shape))
        if strength != 0.0:
            weight += fn(strength * _f32(self.diff, weight.device))
        return weight


@dataclass(eq=False)
class SetWeight(Adapter):
    """Replace the weight (``set_weight``; ComfyUI's ``("set", (t,))``)."""

    value: Tensor
    name = "set"

    def numel(self) -> int:
        return self.value.numel()

    def apply(self, weight: Tensor, strength: float, fn: Function = _identity) -> Tensor:
        weight.copy_(self.value.to(weight.device).reshape(weight.shape))
        return weight


@dataclass(eq=False)
class Nested(Adapter):
    """Another model's weight with its own patches (``get_key_patches`` entries, used by model merging):
    ``[(weight, convert), patch, ...]``; applied as a difference of strength ``strength``."""

    weight: Tensor
    convert: Callable[..., Tensor] | None
    patches: list[Any]
    name = "nested"

    def numel(self) -> int:
        return self.weight.numel()

    def apply(self, weight: Tensor, strength: float, fn: Function = _identity) -> Tensor:
        other = self.weight.to(device=weight.device, dtype=torch.float32, copy=True)
        if self.convert is not None:
            other = self.convert(other, inplace=True)
        other = calculate_weight([as_patch(p) for p in self.patches], other)
        return Diff(other).apply(weight, strength, fn)


class Patch(tuple):  # noqa: SLOT001 - ComfyUI's 5-tuple, indexable as packs do
    """(strength_patch, adapter, strength_model, offset, function), ComfyUI's patch-list entry."""

    __slots__ = ()

    def __new__(cls, strength: float, adapter: Adapter, strength_model: float = 1.0, offset: Any = None,
                function: Function | None = None) -> Patch:
        return super().__new__(cls, (strength, adapter, strength_model, offset, function))

    @property
    def adapter(self) -> Adapter:
        return self[1]


def as_adapter(v: Any) -> Adapter:
    """An Adapter from ComfyUI's patch values: an adapter, ``(tensor,)``, ``("diff"|"set", (tensor, ...))`` or a
    ``get_key_patches`` list."""
    if isinstance(v, Adapter):
        return v
    if isinstance(v, list):
        base = v[0]
        return Nested(base[0], base[1] if len(base) > 1 else None, list(v[1:]))
    if isinstance(v, tuple) and len(v) == 1 and isinstance(v[0], Tensor):
        return Diff(v[0])
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str):
        kind, args = v
        if kind == "diff":
            pad = len(args) > 1 and bool(args[1].get("pad_weight"))
            return Diff(args[0], pad_weight=pad)
        if kind == "set":
            return SetWeight(args[0])
    raise TypeError(f"not a weight patch: {type(v).__name__}")


def as_patch(p: Any) -> Patch:
    if isinstance(p, Patch):
        return p
    strength, v, strength_model, offset, function = p
    return Patch(strength, as_adapter(v), strength_model, offset, function)


def calculate_weight(patches: Iterable[Patch], weight: Tensor, key: str = "") -> Tensor:
    """``weight`` (fp32) with ``patches`` applied in order (``offset`` = (dim, start, length) patches a slice)."""
    for strength, adapter, strength_model, offset, function in patches:
        target = weight.narrow(*offset) if offset is not None else weight
        if strength_model != 1.0:
            target *= strength_model
        out = adapter.apply(target, strength, function or _identity)
        if offset is None:
            weight = out
    return weight


__all__ = ["Adapter", "Diff", "LoHa", "LoKr", "LoRA", "Nested", "Patch", "SetWeight", "as_adapter", "as_patch",
           "calculate_weight"]
