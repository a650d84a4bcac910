"""Image nodes of comfy_extras.nodes_images and ImagePadForOutpaint: shapes, values, batches, out-of-range crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from builtin_nodes import image_extras as ie
from builtin_nodes.image_stitch import ImageStitch


def out(node: type, **kwargs):
    return node.execute(**kwargs).values[0]


def ramp(b: int = 1, h: int = 4, w: int = 6, c: int = 3) -> torch.Tensor:
    return torch.linspace(0, 1, b * h * w * c).reshape(b, h, w, c)


def test_image_crop_window_and_out_of_range() -> None:
    image = ramp(2, 6, 8)
    assert torch.equal(out(ie.ImageCrop, image=image, width=3, height=2, x=1, y=4), image[:, 4:6, 1:4])
    corner = out(ie.ImageCrop, image=image, width=5, height=5, x=100, y=100)  # clamped to the last pixel
    assert torch.equal(corner, image[:, 5:6, 7:8])
    assert tuple(out(ie.ImageCrop, image=image, width=512, height=512, x=0, y=0).shape) == (2, 6, 8, 3)


def test_repeat_and_from_batch() -> None:
    image = ramp(2)
    repeated = out(ie.RepeatImageBatch, image=image, amount=3)
    assert tuple(repeated.shape) == (6, 4, 6, 3) and torch.equal(repeated[4], image[0])
    assert torch.equal(out(ie.ImageFromBatch, image=repeated, batch_index=1, length=2), repeated[1:3])
    assert torch.equal(out(ie.ImageFromBatch, image=repeated, batch_index=4095, length=3), repeated[5:])
    assert tuple(out(ie.ImageFromBatch, image=repeated, batch_index=4, length=4096).shape)[0] == 2


def test_image_add_noise_is_seeded_and_clamped() -> None:
    image = torch.full((2, 3, 4, 3), 0.5)
    noisy = out(ie.ImageAddNoise, image=image, seed=42, strength=0.5)
    torch.manual_seed(42)
    expected = torch.clip(image + 0.5 * torch.randn(image.shape), 0.0, 1.0)
    assert torch.equal(noisy, expected)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0 and not torch.equal(noisy, image)
    assert torch.equal(out(ie.ImageAddNoise, image=image, seed=42, strength=0.0), image)
    assert not torch.equal(out(ie.ImageAddNoise, image=image, seed=43, strength=0.5), noisy)
    assert tuple(out(ie.ImageAddNoise, image=image, seed=2**64 - 1, strength=0.1).shape) == (2, 3, 4, 3)


def test_get_image_size() -> None:
    assert ie.GetImageSize.execute(image=ramp(3, 5, 7)).values == (7, 5, 3)


def test_rotate_is_clockwise_and_flip_axes() -> None:
    image = torch.arange(6.0).reshape(1, 2, 3, 1)  # [[0 1 2], [3 4 5]]
    r90 = out(ie.ImageRotate, image=image, rotation="90 degrees")
    assert r90[0, :, :, 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert out(ie.ImageRotate, image=image, rotation="180 degrees")[0, :, :, 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert out(ie.ImageRotate, image=image, rotation="270 degrees")[0, :, :, 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert torch.equal(out(ie.ImageRotate, image=image, rotation="none"), image)
    assert out(ie.ImageFlip, image=image, flip_method="x-axis: vertically")[0, :, :, 0].tolist() == [
        [3, 4, 5], [0, 1, 2]]
    assert out(ie.ImageFlip, image=image, flip_method="y-axis: horizontally")[0, :, :, 0].tolist() == [
        [2, 1, 0], [5, 4, 3]]


@pytest.mark.parametrize(("h", "w", "size", "expected"), [
    (4, 6, 12, (8, 12)), (6, 4, 9, (9, 6)), (5, 5, 3, (3, 3)), (3, 7, 10, (4, 10))])  # round(3/7*10) = 4
def test_scale_to_max_dimension(h: int, w: int, size: int, expected: tuple[int, int]) -> None:
    for method in ("area", "lanczos", "bilinear", "nearest-exact", "bicubic"):
        result = out(ie.ImageScaleToMaxDimension, image=ramp(2, h, w), upscale_method=method, largest_size=size)
        assert tuple(result.shape) == (2, *expected, 3), method


def test_resize_and_pad_centres_on_the_padding_colour() -> None:
    image = torch.full((2, 4, 8, 3), 0.25)
    result = out(ie.ResizeAndPadImage, image=image, target_width=6, target_height=6, padding_color="black",
                 interpolation="bilinear")
    assert tuple(result.shape) == (2, 6, 6, 3)  # scale 0.75 -> 6x3, rows 1..3
    assert torch.allclose(result[:, 1:4], torch.full((2, 3, 6, 3), 0.25))
    assert result[:, 0].sum() == 0 and result[:, 4:].sum() == 0
    white = out(ie.ResizeAndPadImage, image=image, target_width=5, target_height=9, padding_color="white",
                interpolation="nearest-exact")  # scale 0.625 -> int(5.0)=5 x int(2.5)=2, top offset 3
    assert torch.all(white[:, :3] == 1.0) and torch.all(white[:, 3:5] == 0.25) and torch.all(white[:, 5:] == 1.0)


def test_pad_for_outpaint_image_and_feathered_mask() -> None:
    image = torch.full((1, 20, 24, 3), 0.8)
    padded, mask = ie.ImagePadForOutpaint().expand_image(image, left=8, top=0, right=0, bottom=16, feathering=4)
    assert tuple(padded.shape) == (1, 36, 32, 3) and tuple(mask.shape) == (1, 36, 32)
    assert torch.all(padded[:, :20, 8:] == 0.8)
    assert torch.all(padded[:, :, :8] == 0.5) and torch.all(padded[:, 20:] == 0.5)
    assert torch.all(mask[0, :, :8] == 1.0) and torch.all(mask[0, 20:] == 1.0)
    inner = mask[0, :20, 8:]
    # left padded: column j has d = j; bottom padded: row i has d = 20 - i; top/right not padded
    assert inner[5, 0] == 1.0 and inner[5, 1] == pytest.approx(0.5625) and inner[5, 4] == 0.0
    assert inner[19, 10] == pytest.approx(((4 - 1) / 4) ** 2) and inner[16, 10] == 0.0
    assert inner[0, 10] == 0.0  # the top was not padded: no ramp there
    _, no_feather = ie.ImagePadForOutpaint().expand_image(image, 8, 0, 0, 16, feathering=12)  # 24 >= 20
    assert torch.all(no_feather[0, :20, 8:] == 0.0)


def test_pad_for_outpaint_matches_a_direct_loop() -> None:
    h, w, feather = 10, 12, 3
    sides = (8, 8, 0, 8)
    expected = np.zeros((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            d = min(i if sides[1] else h, h - i if sides[3] else h, j if sides[0] else w, w - j if sides[2] else w)
            if d < feather:
                expected[i, j] = ((feather - d) / feather) ** 2
    assert np.array_equal(ie.outpaint_feather(h, w, sides, feather).numpy(), expected)


def stitch(image1, image2=None, direction="right", match=True, spacing=0, color="white"):
    return out(ImageStitch, image1=image1, image2=image2, direction=direction, match_image_size=match,
               spacing_width=spacing, spacing_color=color)


def test_stitch_without_image2_and_directions() -> None:
    a, b = torch.zeros(1, 4, 4, 3), torch.ones(1, 4, 2, 3)
    assert stitch(a) is a
    right = stitch(a, b, "right", match=False)
    assert tuple(right.shape) == (1, 4, 6, 3) and torch.all(right[:, :, 4:] == 1.0)
    left = stitch(a, b, "left", match=False)
    assert torch.all(left[:, :, :2] == 1.0) and torch.all(left[:, :, 2:] == 0.0)
    down = stitch(a, torch.ones(1, 2, 4, 3), "down", match=False)
    assert tuple(down.shape) == (1, 6, 4, 3) and torch.all(down[:, 4:] == 1.0)
    up = stitch(a, torch.ones(1, 2, 4, 3), "up", match=False)
    assert torch.all(up[:, :2] == 1.0)


def test_stitch_match_size_is_lanczos_keeping_aspect() -> None:
    a = torch.zeros(1, 8, 8, 3)
    b = ramp(1, 4, 6)
    result = stitch(a, b, "right")
    assert tuple(result.shape) == (1, 8, 8 + 12, 3)  # int(8 * 6 / 4) = 12
    pixels = np.clip(255.0 * b[0].numpy(), 0, 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(pixels).resize((12, 8), Image.Resampling.LANCZOS)) / 255.0
    assert np.allclose(result[0, :, 8:].numpy(), expected, atol=1e-6)
    assert tuple(stitch(a, b, "down").shape) == (1, 8 + 5, 8, 3)  # int(8 / 1.5) = 5


def test_stitch_pads_broadcasts_batches_and_channels() -> None:
    a = torch.zeros(3, 4, 4, 3)
    b = torch.full((1, 2, 3, 4), 0.5)
    result = stitch(a, b, "right", match=False, color="black")
    assert tuple(result.shape) == (3, 4, 7, 4)
    assert torch.all(result[:, :, :4, 3] == 1.0)  # image1 got an opaque alpha
    assert torch.all(result[:, 1:3, 4:] == 0.5) and torch.all(result[:, 0, 4:, :3] == 0.0)  # centred, padded black
    assert torch.all(result[:, 3, 4:, :3] == 0.0)
    white = stitch(torch.zeros(1, 4, 4, 3), torch.zeros(1, 1, 4, 3), "right", match=False, color="white")
    # 3 missing rows: 1 above (floor of half), 2 below, in the white spacing colour
    assert torch.all(white[:, 0, 4:] == 1.0) and torch.all(white[:, 1, 4:] == 0.0)
    assert torch.all(white[:, 2:, 4:] == 1.0)


def test_stitch_spacing_is_even_and_coloured() -> None:
    a, b = torch.zeros(1, 4, 4, 3), torch.zeros(1, 4, 4, 3)
    result = stitch(a, b, "right", match=False, spacing=3, color="red")
    assert tuple(result.shape) == (1, 4, 4 + 4 + 4, 3)  # 3 rounded up to 4
    assert torch.all(result[:, :, 4:8, 0] == 1.0) and torch.all(result[:, :, 4:8, 1:] == 0.0)
    rgba = stitch(torch.zeros(1, 2, 2, 4), torch.zeros(1, 2, 2, 4), "down", match=False, spacing=2, color="white")
    assert torch.all(rgba[:, 2:4] == 1.0)
