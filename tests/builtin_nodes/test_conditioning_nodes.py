"""The Conditioning* nodes: ComfyUI's option keys and values, copies never aliases of the input options."""

from __future__ import annotations

import torch

from builtin_nodes.conditioning import (
    ConditioningAverage,
    ConditioningCombine,
    ConditioningConcat,
    ConditioningSetArea,
    ConditioningSetAreaPercentage,
    ConditioningSetAreaStrength,
    ConditioningSetMask,
    ConditioningSetTimestepRange,
    ConditioningZeroOut,
)


def cond(value: float, tokens: int = 77, pooled: float | None = None) -> list:
    options = {} if pooled is None else {"pooled_output": torch.full((1, 768), pooled)}
    return [[torch.full((1, tokens, 768), value), options]]


def test_combine_and_concat() -> None:
    a, b = cond(1.0), cond(2.0, tokens=154)
    [both] = ConditioningCombine().combine(a, b)
    assert len(both) == 2 and both[0] is a[0]
    [cat] = ConditioningConcat().concat(a, b)
    assert cat[0][0].shape == (1, 231, 768) and cat[0][1] is not a[0][1]


def test_average_pads_and_mixes_pooled() -> None:
    to, frm = cond(1.0, 154, pooled=1.0), cond(3.0, 77, pooled=3.0)
    [[(tensor, options)]] = ConditioningAverage().addWeighted(to, frm, 0.25)
    assert tensor.shape == (1, 154, 768)
    assert torch.allclose(tensor[:, :77], torch.full((1, 77, 768), 0.25 * 1 + 0.75 * 3))
    assert torch.allclose(tensor[:, 77:], torch.full((1, 77, 768), 0.25))  # from zero-padded past its length
    assert torch.allclose(options["pooled_output"], torch.full((1, 768), 2.5))


def test_areas_strength_mask_range() -> None:
    base = cond(1.0)
    [[(_, area)]] = ConditioningSetArea().append(base, 256, 128, 64, 32, 0.5)
    assert area == {"area": (16, 32, 4, 8), "strength": 0.5, "set_area_to_bounds": False}
    [[(_, pct)]] = ConditioningSetAreaPercentage().append(base, 0.5, 0.25, 0.1, 0.2, 1.0)
    assert pct["area"] == ("percentage", 0.25, 0.5, 0.2, 0.1)
    [[(_, strength)]] = ConditioningSetAreaStrength().append(base, 2.0)
    assert strength == {"strength": 2.0}
    [[(_, masked)]] = ConditioningSetMask().append(base, torch.ones(8, 8), "mask bounds", 0.7)
    assert masked["mask"].shape == (1, 8, 8) and masked["set_area_to_bounds"] and masked["mask_strength"] == 0.7
    [[(_, rng)]] = ConditioningSetTimestepRange().set_range(base, 0.2, 0.8)
    assert rng == {"start_percent": 0.2, "end_percent": 0.8}
    assert base[0][1] == {}  # the input's options untouched


def test_zero_out() -> None:
    [[(tensor, options)]] = ConditioningZeroOut().zero_out(cond(1.0, pooled=1.0))
    assert not tensor.any() and not options["pooled_output"].any()
