"""Mask nodes (comfy_extras.nodes_mask): shapes, values, batch broadcast, masks of another size, crops out of range."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from builtin_nodes import mask_nodes as m
from builtin_nodes.tensor_fit import MissingChannel


def out(node: type, **kwargs):
    return node.execute(**kwargs).values[0]


def ramp(*shape: int) -> torch.Tensor:
    n = int(np.prod(shape))
    return torch.linspace(0, 1, n).reshape(shape)


def test_mask_to_image_and_back() -> None:
    mask = ramp(2, 3, 4)
    image = out(m.MaskToImage, mask=mask)
    assert tuple(image.shape) == (2, 3, 4, 3) and torch.equal(image[..., 1], mask)
    assert tuple(out(m.MaskToImage, mask=mask[0]).shape) == (1, 3, 4, 3)  # a single [H, W] mask
    for i, channel in enumerate(["red", "green", "blue"]):
        rgb = ramp(2, 3, 4, 3)
        assert torch.equal(out(m.ImageToMask, image=rgb, channel=channel), rgb[..., i])
    rgba = ramp(1, 2, 2, 4)
    assert torch.equal(out(m.ImageToMask, image=rgba, channel="alpha"), rgba[..., 3])
    with pytest.raises(MissingChannel, match="no alpha"):
        out(m.ImageToMask, image=ramp(1, 2, 2, 3), channel="alpha")


def test_image_color_to_mask_matches_8bit_rgb() -> None:
    image = torch.zeros(2, 2, 3, 3)
    image[0, 0, 0] = torch.tensor([1.0, 128 / 255, 0.0])
    image[1, 1, 2] = torch.tensor([1.2, 128.4 / 255, -0.1])  # clamped, rounded: the same colour
    image[1, 0, 0] = torch.tensor([1.0, 127.4 / 255, 0.0])  # rounds to 127: not it
    mask = out(m.ImageColorToMask, image=image, color=0xFF8000)
    assert tuple(mask.shape) == (2, 2, 3) and mask.dtype == torch.float32
    assert mask.sum() == 2 and mask[0, 0, 0] == 1 and mask[1, 1, 2] == 1
    assert out(m.ImageColorToMask, image=image, color=0).sum() == 12 - 3


def test_solid_invert_threshold() -> None:
    solid = out(m.SolidMask, value=0.25, width=5, height=3)
    assert tuple(solid.shape) == (1, 3, 5) and torch.all(solid == 0.25)
    assert torch.allclose(out(m.InvertMask, mask=solid), torch.full((1, 3, 5), 0.75))
    mask = torch.tensor([[0.2, 0.5, 0.51, 1.0]])
    assert out(m.ThresholdMask, mask=mask, value=0.5).tolist() == [[0.0, 0.0, 1.0, 1.0]]


def test_crop_mask_window_and_out_of_range() -> None:
    mask = ramp(2, 6, 8)
    crop = out(m.CropMask, mask=mask, x=2, y=1, width=3, height=4)
    assert torch.equal(crop, mask[:, 1:5, 2:5])
    assert tuple(out(m.CropMask, mask=mask, x=6, y=4, width=10, height=10).shape) == (2, 2, 2)  # cut to the mask
    assert tuple(out(m.CropMask, mask=mask, x=9, y=0, width=2, height=2).shape) == (2, 2, 0)  # past the edge
    assert tuple(out(m.CropMask, mask=mask[0], x=0, y=0, width=2, height=2).shape) == (1, 2, 2)


@pytest.mark.parametrize(("operation", "expected"), [
    ("multiply", 0.5 * 0.6), ("add", 1.0), ("subtract", 0.0), ("and", 0.0), ("or", 1.0), ("xor", 1.0)])
def test_mask_composite_operations(operation: str, expected: float) -> None:
    dest = torch.full((1, 4, 4), 0.5)  # rounds to 0 (half to even) for the logic operations
    source = torch.full((1, 2, 2), 0.6)
    result = out(m.MaskComposite, destination=dest, source=source, x=1, y=2, operation=operation)
    assert tuple(result.shape) == (1, 4, 4)
    assert torch.allclose(result[0, 2:4, 1:3], torch.full((2, 2), expected))
    outside = torch.ones(4, 4, dtype=torch.bool)
    outside[2:4, 1:3] = False
    assert torch.all(result[0][outside] == 0.5)  # untouched (and clamped 0..1 only)


def test_mask_composite_clips_source_broadcasts_batch_and_ignores_out_of_range() -> None:
    dest = torch.zeros(3, 4, 5)
    source = ramp(1, 3, 3)
    result = out(m.MaskComposite, destination=dest, source=source, x=3, y=2, operation="add")
    assert torch.equal(result[:, 2:4, 3:5], source[:, :2, :2].expand(3, 2, 2))  # the overlap only, every item
    assert result[:, :2].sum() == 0 and result[:, :, :3].sum() == 0
    assert torch.equal(out(m.MaskComposite, destination=dest, source=source, x=9, y=0, operation="add"), dest)
    logic = out(m.MaskComposite, destination=torch.tensor([[0.4, 0.6]]), source=torch.tensor([[0.6, 0.6]]),
                x=0, y=0, operation="xor")
    assert logic.tolist() == [[[1.0, 0.0]]]  # [B, H, W]; compared after rounding: 0.4 -> 0, 0.6 -> 1


def test_feather_mask_reproduces_comfyui_edges() -> None:
    mask = torch.ones(1, 4, 6)
    left = out(m.FeatherMask, mask=mask, left=3, top=0, right=0, bottom=0)
    assert torch.allclose(left[0, 0], torch.tensor([1 / 3, 2 / 3, 1.0, 1.0, 1.0, 1.0]))
    right = out(m.FeatherMask, mask=mask, left=0, top=0, right=3, bottom=0)
    # ComfyUI 0.8.0 multiplies column -x for x = 0..2: column 0 by 1/3, the last by 2/3, the one before by 1
    assert torch.allclose(right[0, 0], torch.tensor([1 / 3, 1.0, 1.0, 1.0, 1.0, 2 / 3]))
    both = out(m.FeatherMask, mask=mask, left=2, top=2, right=0, bottom=0)
    assert torch.allclose(both[0, 0, 0], torch.tensor(0.25)) and torch.allclose(both[0, 3, 5], torch.tensor(1.0))
    big = out(m.FeatherMask, mask=mask, left=100, top=0, right=0, bottom=0)  # clamped to the width
    assert torch.allclose(big[0, 0], torch.arange(1, 7) / 6)


@pytest.mark.parametrize("tapered", [True, False])
@pytest.mark.parametrize("expand", [1, 2, 5, -1, -3, 0])
def test_grow_mask_equals_scipy_grey_morphology(tapered: bool, expand: int) -> None:
    torch.manual_seed(0)
    masks = (torch.rand(2, 9, 11) > 0.7).float() * torch.rand(2, 9, 11)
    c = 0 if tapered else 1
    kernel = np.array([[c, 1, c], [1, 1, 1], [c, 1, c]])
    expected = []
    for mask in masks.numpy():
        for _ in range(abs(expand)):
            fn = scipy.ndimage.grey_dilation if expand > 0 else scipy.ndimage.grey_erosion
            mask = fn(mask, footprint=kernel)
        expected.append(mask)
    result = out(m.GrowMask, mask=masks, expand=expand, tapered_corners=tapered)
    assert tuple(result.shape) == (2, 9, 11)
    assert np.array_equal(result.numpy(), np.stack(expected))


def test_grow_mask_far_beyond_the_mask_fills_it() -> None:
    mask = torch.zeros(1, 5, 7)
    mask[0, 2, 3] = 1.0
    assert torch.all(out(m.GrowMask, mask=mask, expand=16384, tapered_corners=False) == 1.0)
    assert torch.all(out(m.GrowMask, mask=mask, expand=100, tapered_corners=True) == 1.0)
    assert torch.all(out(m.GrowMask, mask=mask, expand=-100, tapered_corners=True) == 0.0)


def test_image_composite_masked_pastes_with_mask_of_another_size() -> None:
    dest = torch.zeros(2, 8, 8, 3)
    source = torch.ones(1, 4, 4, 3)
    mask = torch.zeros(8, 8)
    mask[:, 4:] = 1.0  # [H, W] at twice the source's size: resized bilinearly to 4x4 -> right half
    result = out(m.ImageCompositeMasked, destination=dest, source=source, x=2, y=3, resize_source=False, mask=mask)
    assert tuple(result.shape) == (2, 8, 8, 3)
    region = result[:, 3:7, 2:6, 0]
    assert torch.all(region[:, :, 2:] == 1.0) and torch.all(region[:, :, :2] == 0.0)
    assert result.sum() == 2 * 4 * 2 * 3  # nothing outside the pasted block, both batch items
    assert torch.equal(dest, torch.zeros(2, 8, 8, 3))  # the input is not modified


def test_image_composite_clips_at_the_edges_and_fixes_alpha() -> None:
    dest = torch.zeros(1, 4, 4, 4)
    source = torch.full((1, 3, 3, 3), 0.5)
    result = out(m.ImageCompositeMasked, destination=dest, source=source, x=2, y=3, resize_source=False)
    assert torch.all(result[0, 3, 2:4, :3] == 0.5) and torch.all(result[0, 3, 2:4, 3] == 1.0)  # opaque alpha
    assert result[0, :3].sum() == 0 and result[0, :, :2].sum() == 0
    far = out(m.ImageCompositeMasked, destination=dest, source=source, x=100, y=100, resize_source=False)
    assert torch.equal(far, dest)
    resized = out(m.ImageCompositeMasked, destination=torch.zeros(1, 6, 6, 3), source=torch.ones(1, 2, 3, 3),
                  x=0, y=0, resize_source=True)
    assert torch.all(resized == 1.0)


def test_latent_composite_masked_in_latent_pixels() -> None:
    dest = {"samples": torch.zeros(2, 4, 8, 8), "batch_index": [3, 4]}
    source = {"samples": torch.ones(1, 4, 4, 4)}
    result = out(m.LatentCompositeMasked, destination=dest, source=source, x=16, y=40, resize_source=False)
    s = result["samples"]
    assert result["batch_index"] == [3, 4] and tuple(s.shape) == (2, 4, 8, 8)
    assert torch.all(s[:, :, 5:8, 2:6] == 1.0) and s.sum() == 2 * 4 * 3 * 4  # y = 40 // 8 = 5: 3 rows fit
    half = torch.tensor([[0.0, 1.0]]).expand(2, 2)  # a 2x2 mask resized to 4x4
    masked = out(m.LatentCompositeMasked, destination=dest, source=source, x=0, y=0, resize_source=False,
                 mask=half)["samples"]
    expected = torch.nn.functional.interpolate(half[None, None], size=(4, 4), mode="bilinear")[0, 0]
    assert torch.allclose(masked[0, 0, :4, :4], expected)


def test_latent_composite_masked_on_video_latents() -> None:
    dest = {"samples": torch.zeros(1, 4, 3, 8, 8)}
    source = {"samples": torch.ones(1, 4, 3, 2, 2)}
    mask = torch.zeros(2, 2)
    mask[:, 1] = 1.0
    s = out(m.LatentCompositeMasked, destination=dest, source=source, x=0, y=0, resize_source=True, mask=mask)
    assert s["samples"].shape == (1, 4, 3, 8, 8)
    expected = torch.nn.functional.interpolate(mask[None, None], size=(8, 8), mode="bilinear")[0, 0]
    assert torch.allclose(s["samples"][0, 2, 1], expected)  # the mask over every frame and channel
