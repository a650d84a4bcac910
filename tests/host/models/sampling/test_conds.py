"""Conditioning entries resolved as ComfyUI resolves them: areas, masks, bounds, ranges, equal-area copies."""

from __future__ import annotations

import torch
from torch import nn

from host.models.sampling import ModelSampling
from host.models.sampling.conds import Cond, add_same_area, job_for, mirror_areas, resolve
from host.models.sampling.guidance import ModelCall, calc_cond_batch

MS = ModelSampling.discrete("eps")
CPU = torch.device("cpu")


def ctx(v: float) -> torch.Tensor:
    return torch.full((1, 2, 8), v)


def test_resolve_percentage_area_mask_and_ranges() -> None:
    mask = torch.zeros(64, 64)
    mask[8:24, 40:60] = 1.0
    (a, b, c) = resolve([[ctx(1), {"area": ("percentage", 0.5, 0.25, 0.5, 0.0), "strength": 0.7}],
                         [ctx(2), {"mask": mask, "set_area_to_bounds": True, "mask_strength": 0.5}],
                         [ctx(3), {"start_percent": 0.25, "end_percent": 0.75}]], (16, 16), CPU, MS)
    assert a.area == (8, 4, 8, 0) and a.strength == 0.7
    assert b.mask.shape == (1, 16, 16) and b.mask_strength == 0.5
    assert b.area == (8, 8, 2, 10)  # bounds rows 2..5, cols 10..14, widened to at least 8
    assert c.sigma_start == MS.percent_to_sigma(0.25) and c.sigma_end == MS.percent_to_sigma(0.75)
    x = torch.zeros(1, 4, 16, 16)
    assert job_for(c, x, torch.tensor([14.6]), 0) is None
    assert job_for(c, x, torch.tensor([float(MS.sigma(torch.tensor(500.0)))]), 0) is not None
    assert job_for(c, x, torch.tensor([0.03]), 0) is None


def test_equal_area_copy_takes_the_smallest_containing_prompt() -> None:
    whole, big = Cond(ctx(0)), Cond(ctx(1), area=(16, 16, 0, 0))
    small = Cond(ctx(5), area=(4, 4, 2, 2), strength=2.0)
    targets = [whole, big]
    add_same_area(targets, small)
    assert len(targets) == 3
    copy = targets[-1]
    assert copy.area == small.area and copy.strength == 2.0 and torch.equal(copy.cross_attn, big.cross_attn)
    add_same_area(targets, small)  # an entry with that exact area now exists
    assert len(targets) == 3
    pos, neg = [small], [whole]
    mirror_areas(pos, neg)
    assert len(neg) == 2 and torch.equal(neg[1].cross_attn, whole.cross_attn) and len(pos) == 1


class ConstEps(nn.Module):
    """eps = the context's first value everywhere."""

    def forward(self, x, timesteps, context=None, y=None):
        return context[:, :1, :1, None].expand(x.shape[0], x.shape[1], x.shape[2], x.shape[3])


def test_mask_and_strength_weights() -> None:
    call = ModelCall(ConstEps(), MS, torch.float32)
    x, sigma = torch.zeros(1, 4, 8, 8), torch.tensor([1.0])
    mask = torch.zeros(1, 8, 8)
    mask[:, :, 4:] = 1.0
    entries = [Cond(ctx(1.0)), Cond(ctx(4.0), mask=mask, mask_strength=0.5, strength=2.0)]
    (out,) = calc_cond_batch(call, [entries], x, sigma)
    left, right = out[0, 0, 0, 0], out[0, 0, 0, 7]
    assert torch.isclose(left, torch.tensor(-1.0))
    assert torch.isclose(right, torch.tensor(-(1.0 + 4.0 * 1.0) / 2.0))  # weight 2.0 * 0.5 = 1 beside 1
