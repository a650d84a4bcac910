"""ImageScaleBy (sizes, every upscale method) and ImageBatch (same and different sizes, channel counts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from builtin_nodes.image_ops import UPSCALE_METHODS, ImageBatch, ImageScaleBy, resize
from host.executor.errors import ValidationFailed
from host.executor.events import ListSink
from host.executor.executor import Executor


def ramp(b: int = 1, h: int = 4, w: int = 6, c: int = 3) -> torch.Tensor:
    return torch.linspace(0, 1, b * h * w * c).reshape(b, h, w, c)


def scale(image: torch.Tensor, method: str, factor: float) -> torch.Tensor:
    [out] = ImageScaleBy().upscale(image, method, factor)
    return out


@pytest.mark.parametrize("method", UPSCALE_METHODS)
@pytest.mark.parametrize(("h", "w", "factor", "size"), [
    (4, 6, 2.0, (8, 12)), (4, 6, 0.5, (2, 3)), (5, 7, 1.5, (8, 10)),  # round(7.5)=8, round(10.5)=10 (banker's)
    (3, 3, 1.0, (3, 3)), (10, 10, 0.25, (2, 2)), (9, 11, 0.33, (3, 4))])
def test_scale_by_sizes(method: str, h: int, w: int, factor: float, size: tuple[int, int]) -> None:
    out = scale(ramp(b=2, h=h, w=w), method, factor)
    assert tuple(out.shape) == (2, *size, 3)
    assert out.dtype == torch.float32


def test_interpolation_modes_match_torch() -> None:
    image = ramp(h=4, w=6)
    for method in ("nearest-exact", "bilinear", "area", "bicubic"):
        expected = torch.nn.functional.interpolate(image.movedim(-1, 1), size=(8, 12), mode=method).movedim(1, -1)
        assert torch.allclose(scale(image, method, 2.0), expected), method


def test_nearest_exact_doubles_pixels() -> None:
    image = torch.tensor([[[[0.0], [1.0]]]]).expand(1, 1, 2, 3)  # [1, 1, 2, 3]: a black and a white pixel
    out = scale(image, "nearest-exact", 2.0)
    assert out[0, :, :, 0].tolist() == [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]


def test_lanczos_goes_through_pil_per_image() -> None:
    image = ramp(b=2, h=5, w=7)
    out = scale(image, "lanczos", 1.7)  # 7*1.7=11.9 -> 12, 5*1.7=8.5 -> 8
    assert tuple(out.shape) == (2, 8, 12, 3)
    for i in range(2):
        pixels = np.clip(255.0 * image[i].numpy(), 0, 255).astype(np.uint8)
        expected = np.asarray(Image.fromarray(pixels).resize((12, 8), Image.Resampling.LANCZOS)) / 255.0
        assert np.allclose(out[i].numpy(), expected, atol=1e-6)


def test_lanczos_grey_and_rgba() -> None:
    assert tuple(scale(ramp(h=4, w=4, c=1), "lanczos", 2.0).shape) == (1, 8, 8, 1)
    assert tuple(scale(ramp(h=4, w=4, c=4), "lanczos", 0.5).shape) == (1, 2, 2, 4)


def test_resize_rejects_unknown_method_and_empty_size() -> None:
    with pytest.raises(ValueError, match="unknown upscale method"):
        resize(ramp().movedim(-1, 1), 2, 2, "bislerp")
    with pytest.raises(ValueError, match="at least 1x1"):
        scale(ramp(h=4, w=6), "bilinear", 0.1)  # round(0.4) = 0


def test_image_batch_same_size_concatenates() -> None:
    a, b = ramp(b=2), 1.0 - ramp(b=1)
    [out] = ImageBatch.execute(image1=a, image2=b).values
    assert tuple(out.shape) == (3, 4, 6, 3)
    assert torch.equal(out[:2], a) and torch.equal(out[2:], b)


def test_image_batch_rescales_second_to_first_size() -> None:
    a = torch.zeros(1, 4, 6, 3)
    b = torch.ones(2, 8, 12, 3)
    [out] = ImageBatch.execute(image1=a, image2=b).values
    assert tuple(out.shape) == (3, 4, 6, 3)
    assert torch.allclose(out[1:], torch.ones(2, 4, 6, 3))


def test_image_batch_center_crops_to_first_aspect() -> None:
    # image2 is 4x8 (wide) with a bright left and right quarter; image1 is square: the crop keeps the middle
    b = torch.zeros(1, 4, 8, 3)
    b[:, :, :2] = 1.0
    b[:, :, 6:] = 1.0
    [out] = ImageBatch.execute(image1=torch.zeros(1, 2, 2, 3), image2=b).values
    assert tuple(out.shape) == (2, 2, 2, 3)
    assert torch.allclose(out[1], torch.zeros(2, 2, 3))
    expected = torch.nn.functional.interpolate(b[:, :, 2:6].movedim(-1, 1), size=(2, 2), mode="bilinear")
    assert torch.allclose(out[1:], expected.movedim(1, -1))


def test_image_batch_tall_second_image_is_cropped_top_and_bottom() -> None:
    b = torch.zeros(1, 9, 3, 1)
    b[:, 3:6] = 1.0  # only the middle third survives a crop to a square
    [out] = ImageBatch.execute(image1=torch.zeros(1, 3, 3, 1), image2=b).values
    assert torch.allclose(out[1], torch.ones(3, 3, 1))


def test_image_batch_pads_missing_alpha_with_ones() -> None:
    rgb, rgba = torch.zeros(1, 2, 2, 3), torch.zeros(1, 2, 2, 4)
    [out] = ImageBatch.execute(image1=rgb, image2=rgba).values
    assert tuple(out.shape) == (2, 2, 2, 4)
    assert out[0, ..., 3].eq(1.0).all() and out[1, ..., 3].eq(0.0).all()
    [out] = ImageBatch.execute(image1=rgba, image2=rgb).values
    assert out[1, ..., 3].eq(1.0).all()


async def test_scale_and_batch_through_the_executor(registry) -> None:
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 6, "height": 4, "batch_size": 1, "color": 0xFF0000}},
        "2": {"class_type": "EmptyImage", "inputs": {"width": 3, "height": 3, "batch_size": 2, "color": 0x0000FF}},
        "3": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "lanczos",
                                                       "scale_by": 1.5}},
        "4": {"class_type": "ImageBatch", "inputs": {"image1": ["3", 0], "image2": ["2", 0]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "success", result.error
    assert len(result.outputs["5"]["images"]) == 3


async def test_scale_by_rejects_unknown_method_at_validation(registry) -> None:
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 6, "height": 4, "batch_size": 1, "color": 0}},
        "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "bislerp",
                                                       "scale_by": 2.0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    with pytest.raises(ValidationFailed) as failed:
        await Executor(registry, ListSink()).run(prompt, "p")
    errors = failed.value.body()["node_errors"]["2"]["errors"]
    assert errors[0]["type"] == "value_not_in_list" and "bislerp" in errors[0]["details"]
