"""Conditioning as ComfyUI's KSampler applies it (MODELS_FACTS.md §6): CONDITIONING entries resolved to
latent-space areas, masks and sigma ranges; equal-area copies across positive/negative; and the per-call
weights (strength × mask, feathered area edges) each entry's prediction is averaged with."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from host.models.unclip import model_adm

from .control import share_with_uncond
from .model_sampling import ModelSampling

Area = tuple[int, int, int, int]  # (h, w, y, x) in latent pixels


@dataclass(frozen=True, eq=False)
class Cond:
    """One conditioning entry, ready to sample with."""

    cross_attn: Tensor                      # [B, T, D]
    area: Area | None = None
    strength: float = 1.0
    mask: Tensor | None = None              # [B, h, w] at latent size
    mask_strength: float = 1.0
    sigma_start: float | None = None        # skipped while sigma > sigma_start
    sigma_end: float | None = None          # skipped while sigma < sigma_end
    extra: dict[str, Tensor] = field(default_factory=dict)  # other model inputs ("y")
    control: Any = None                     # a sampling.control.Control (ControlNet / T2I-adapter)
    control_to_uncond: bool = False         # ControlNetApply's: the negative gets this control too
    gligen: Any = None                      # ("position", host.models.gligen.Gligen, boxes)


def _resolve_area(area: Any, dims: tuple[int, int]) -> Area:
    if area[0] == "percentage":
        h, w, y, x = area[1:]
        return (max(1, round(h * dims[0])), max(1, round(w * dims[1])), round(y * dims[0]), round(x * dims[1]))
    return tuple(int(v) for v in area)  # type: ignore[return-value]


def _mask_bounds(mask: Tensor) -> Area:
    """The area a mask covers (ConditioningSetMask's set_area_to_bounds), at least 8×8."""
    bounds = torch.max(torch.abs(mask), dim=0).values
    nonzero = torch.nonzero(bounds > 0)
    if len(nonzero) == 0:
        return (8, 8, 0, 0)
    y0, x0 = (int(v) for v in nonzero.min(dim=0).values)
    y1, x1 = (int(v) for v in nonzero.max(dim=0).values)
    return (max(8, y1 - y0 + 1), max(8, x1 - x0 + 1), y0, x0)


def resolve(conditioning: list, dims: tuple[int, int], device: torch.device, ms: ModelSampling,
            adm: Callable[[dict[str, Any]], Tensor | None] | None = None, model_conds: Any = None,
            prompt_type: str = "positive") -> list[Cond]:
    """CONDITIONING ([[cond, options], ...]) as Conds at latent size ``dims`` (h, w); ``adm(options)``, when
    given, is the model's class-embedding input y for an entry (None: none). ``model_conds(cross_attn, options,
    dims, prompt_type)``, when given, adds the model's other inputs (SDXL's ``y``: host.models.adm)."""
    out = []
    for cross_attn, opts in conditioning:
        area = _resolve_area(opts["area"], dims) if "area" in opts else None
        mask = opts.get("mask")
        if mask is not None:
            mask = mask.to(device)
            if mask.ndim == 2:
                mask = mask.unsqueeze(0)
            if tuple(mask.shape[1:]) != dims:
                mask = F.interpolate(mask.unsqueeze(1), size=dims, mode="bilinear", align_corners=False).squeeze(1)
            if opts.get("set_area_to_bounds", False):
                area = _mask_bounds(mask)
        extra = {}
        if opts.get("pooled_output") is not None and opts.get("use_pooled_as_y"):
            extra["y"] = opts["pooled_output"]
        y = adm(opts) if adm is not None else None
        if y is not None:
            extra["y"] = y
        if model_conds is not None:
            extra.update(model_conds(cross_attn, opts, dims, prompt_type))
        out.append(Cond(
            cross_attn=cross_attn, area=area, strength=float(opts.get("strength", 1.0)), mask=mask,
            mask_strength=float(opts.get("mask_strength", 1.0)),
            sigma_start=ms.percent_to_sigma(opts["start_percent"]) if "start_percent" in opts else None,
            sigma_end=ms.percent_to_sigma(opts["end_percent"]) if "end_percent" in opts else None, extra=extra,
            control=opts.get("control"), control_to_uncond=bool(opts.get("control_apply_to_uncond", False)),
            gligen=opts.get("gligen")))
    return out


def _area_inside(a: Area, outer: Area) -> bool:
    return a[0] <= outer[0] and a[1] <= outer[1] and a[2] >= outer[2] and a[3] >= outer[3] and (
        a[2] + a[0] <= outer[2] + outer[0] and a[3] + a[1] <= outer[3] + outer[1])


def add_same_area(targets: list[Cond], c: Cond) -> None:
    """Give ``targets`` an entry with c's area (and weights) carrying the prompt of the smallest target entry
    that contains it, unless one with that exact area exists (``create_cond_with_same_area_if_none``)."""
    if c.area is None:
        return
    smallest: Cond | None = None
    for x in targets:
        if x.area is None:
            smallest = smallest or x
        elif _area_inside(c.area, x.area) and (
                smallest is None or smallest.area is None
                or math.prod(smallest.area[:2]) > math.prod(x.area[:2])):
            smallest = x
    if smallest is None or smallest.area == c.area:
        return
    targets.append(replace(c, cross_attn=smallest.cross_attn, extra=dict(smallest.extra)))


def mirror_areas(positive: list[Cond], negative: list[Cond]) -> None:
    for c in list(positive):
        add_same_area(negative, c)
    for c in list(negative):
        add_same_area(positive, c)


@dataclass(frozen=True, eq=False)
class Job:
    """One entry's share of a denoiser call: its input crop, weights, model inputs and where it goes."""

    input_x: Tensor
    mult: Tensor
    cross_attn: Tensor
    area: Area | None
    index: int                      # 0 = positive, 1 = negative
    extra: dict[str, Tensor]
    control: Any = None
    gligen: Any = None


def _repeat_to_batch(t: Tensor, batch: int) -> Tensor:
    if t.shape[0] > batch:
        return t[:batch]
    if t.shape[0] < batch:
        return t.repeat([math.ceil(batch / t.shape[0])] + [1] * (t.ndim - 1))[:batch]
    return t


def _feather(mult: Tensor, area: Area, full: tuple[int, int]) -> Tensor:
    for i in range(2):
        rr = min(8, mult.shape[2 + i] // 4)
        for t in range(rr):
            if area[2 + i] != 0:
                mult.narrow(i + 2, t, 1).mul_((1.0 / rr) * (t + 1))
            if area[i] + area[2 + i] < full[i]:
                mult.narrow(i + 2, area[i] - 1 - t, 1).mul_((1.0 / rr) * (t + 1))
    return mult


def job_for(c: Cond, x: Tensor, sigma: Tensor, index: int) -> Job | None:
    """The job of entry c at this call, or None when sigma is outside c's range (``get_area_and_mult``)."""
    s = float(sigma[0])
    if (c.sigma_start is not None and s > c.sigma_start) or (c.sigma_end is not None and s < c.sigma_end):
        return None
    input_x, area = x, None
    if c.area is not None:
        h = min(x.shape[2] - c.area[2], c.area[0])
        w = min(x.shape[3] - c.area[3], c.area[1])
        area = (h, w, c.area[2], c.area[3])
        input_x = x[:, :, area[2]:area[2] + h, area[3]:area[3] + w]
    if c.mask is not None:
        mask = c.mask[: input_x.shape[0]]
        if area is not None:
            mask = mask[:, area[2]:area[2] + area[0], area[3]:area[3] + area[1]]
        mask = (mask * c.mask_strength).unsqueeze(1)
        mask = mask.repeat(input_x.shape[0] // mask.shape[0], input_x.shape[1], 1, 1)
    else:
        mask = torch.ones_like(input_x)
    mult = mask * c.strength
    if c.mask is None and area is not None:
        mult = _feather(mult, area, (x.shape[2], x.shape[3]))
    batch = x.shape[0]
    extra = {k: _repeat_to_batch(v, batch).to(x.device) for k, v in c.extra.items()}
    return Job(input_x, mult, _repeat_to_batch(c.cross_attn, batch).to(x.device), area, index, extra, c.control,
               c.gligen)


def class_embedding(model: Any, seed: int) -> Callable[[dict[str, Any]], Tensor | None]:
    """``resolve``'s ``adm`` for ``model``: an entry's class-embedding input y (unCLIP's), None for most models."""
    def adm(opts: dict[str, Any]) -> Tensor | None:
        return model_adm(model, opts, seed)

    return adm


def share_positive(lists: list[list[Cond]]) -> None:
    """ControlNetApply's controls and GLIGEN's grounding of the first list (positive) given to each other list
    (``apply_empty_x_to_equal_area``), after the equal-area copies."""
    for other in lists[1:]:
        share_with_uncond(lists[0], other)
        share_with_uncond(lists[0], other, "gligen")


def prepare_conds(model: Any, positive: list, negative: list, dims: tuple[int, int], device: torch.device,
                  ms: ModelSampling, seed: int) -> tuple[list[Cond], list[Cond]]:
    """Positive and negative CONDITIONING as KSampler runs them: resolved with the model's class embedding and
    its own inputs (SDXL's ADM y), equal-area copies across the two, then share_positive."""
    from host.models.adm import adm_encoder

    adm, xl = class_embedding(model, seed), adm_encoder(model)
    pos = resolve(positive, dims, device, ms, adm, xl, "positive")
    neg = resolve(negative, dims, device, ms, adm, xl, "negative")
    mirror_areas(pos, neg)
    share_positive([pos, neg])
    return pos, neg
