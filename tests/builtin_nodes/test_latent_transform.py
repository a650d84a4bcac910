"""Latent batch/transform nodes of ComfyUI's nodes: batch picking with masks and indices, composite with feathering,
blend, crop, rotate, flip."""

from __future__ import annotations

import torch

from builtin_nodes import latent_transform as lt


def lat(*shape: int, **extra) -> dict:
    return {"samples": torch.arange(float(torch.Size(shape).numel())).reshape(shape), **extra}


def test_from_batch_clamps_and_carries_masks_and_indices() -> None:
    a = lat(4, 4, 2, 2, noise_mask=torch.arange(2.0).reshape(2, 1, 1, 1).expand(2, 1, 2, 2))
    [s] = lt.LatentFromBatch().frombatch(a, batch_index=1, length=2)
    assert torch.equal(s["samples"], a["samples"][1:3]) and s["batch_index"] == [1, 2]
    assert s["noise_mask"][:, 0, 0, 0].tolist() == [1.0, 0.0]  # 2 masks repeated to 4: m0 m1 m0 m1
    [last] = lt.LatentFromBatch().frombatch(a, batch_index=63, length=64)
    assert last["samples"].shape[0] == 1 and last["batch_index"] == [3]
    [again] = lt.LatentFromBatch().frombatch(s, batch_index=1, length=1)
    assert again["batch_index"] == [2]
    single = lat(3, 4, 2, 2, noise_mask=torch.ones(1, 1, 2, 2))
    assert lt.LatentFromBatch().frombatch(single, 2, 1)[0]["noise_mask"].shape == (1, 1, 2, 2)


def test_repeat_latent_batch() -> None:
    a = lat(2, 4, 2, 2, batch_index=[3, 5], noise_mask=torch.rand(2, 1, 2, 2))
    [s] = lt.RepeatLatentBatch().repeat(a, amount=3)
    assert s["samples"].shape == (6, 4, 2, 2) and torch.equal(s["samples"][4:], a["samples"])
    assert s["batch_index"] == [3, 5, 6, 8, 9, 11]  # offset = 5 - 3 + 1
    assert s["noise_mask"].shape == (6, 1, 2, 2) and torch.equal(s["noise_mask"][2:4], a["noise_mask"])
    [plain] = lt.RepeatLatentBatch().repeat(lat(1, 4, 2, 2), amount=2)
    assert "batch_index" not in plain and plain["samples"].shape[0] == 2


def test_composite_pastes_in_latent_pixels_and_cuts_at_edges() -> None:
    to, src = {"samples": torch.zeros(2, 4, 8, 8)}, {"samples": torch.ones(1, 4, 4, 4)}
    [s] = lt.LatentComposite().composite(to, src, x=48, y=16)  # 6, 2: only 2 columns fit
    assert torch.all(s["samples"][:, :, 2:6, 6:8] == 1.0) and s["samples"].sum() == 2 * 4 * 4 * 2
    assert to["samples"].sum() == 0
    [far] = lt.LatentComposite().composite(to, src, x=800, y=800)
    assert torch.equal(far["samples"], to["samples"])


def test_composite_feather_ramps_inner_edges_only() -> None:
    to, src = {"samples": torch.zeros(1, 1, 8, 8)}, {"samples": torch.ones(1, 1, 4, 4)}
    [s] = lt.LatentComposite().composite(to, src, x=16, y=0, feather=16)  # x=2, y=0, feather 2
    block = s["samples"][0, 0, 0:4, 2:6]
    # rows: top at the edge (no ramp), bottom inside (ramp on rows 3, 2); columns: both inside
    rows = torch.tensor([1.0, 1.0, 1.0, 0.5])
    cols = torch.tensor([0.5, 1.0, 1.0, 0.5])
    assert torch.allclose(block, rows[:, None] * cols[None, :])
    assert s["samples"][0, 0, 4:].sum() == 0


def test_blend_resizes_the_second() -> None:
    a, b = {"samples": torch.ones(1, 4, 4, 4)}, {"samples": torch.zeros(1, 4, 8, 8)}
    [s] = lt.LatentBlend().blend(a, b, blend_factor=0.25)
    assert s["samples"].shape == (1, 4, 4, 4) and torch.allclose(s["samples"], torch.full((1, 4, 4, 4), 0.25))
    [same] = lt.LatentBlend().blend(a, {"samples": torch.full((1, 4, 4, 4), 3.0)}, blend_factor=0.5)
    assert torch.allclose(same["samples"], torch.full((1, 4, 4, 4), 2.0))


def test_crop_keeps_the_corner_inside() -> None:
    a = lat(1, 4, 16, 16)
    [s] = lt.LatentCrop().crop(a, width=64, height=128, x=16, y=8)
    assert torch.equal(s["samples"], a["samples"][:, :, 1:17, 2:10])
    [edge] = lt.LatentCrop().crop(a, width=512, height=512, x=4096, y=4096)  # corner moved to 16 - 8
    assert torch.equal(edge["samples"], a["samples"][:, :, 8:, 8:])
    [tiny] = lt.LatentCrop().crop(lat(1, 4, 4, 4), width=64, height=64, x=64, y=64)
    assert tiny["samples"].shape == (1, 4, 4, 4)


def test_rotate_and_flip() -> None:
    a = {"samples": torch.arange(6.0).reshape(1, 1, 2, 3)}
    assert lt.LatentRotate().rotate(a, "90 degrees")[0]["samples"][0, 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert lt.LatentRotate().rotate(a, "none")[0]["samples"].equal(a["samples"])
    assert lt.LatentRotate().rotate(a, "270 degrees")[0]["samples"][0, 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert lt.LatentFlip().flip(a, "x-axis: vertically")[0]["samples"][0, 0].tolist() == [[3, 4, 5], [0, 1, 2]]
    assert lt.LatentFlip().flip(a, "y-axis: horizontally")[0]["samples"][0, 0].tolist() == [[2, 1, 0], [5, 4, 3]]
