"""RebatchImages and RebatchLatents: input lists in, output lists out, batches of batch_size."""

from __future__ import annotations

import torch

from builtin_nodes.rebatch import RebatchImages, RebatchLatents
from host.executor.events import ListSink
from host.executor.executor import Executor


def images(*sizes: int, start: float = 0.0) -> list[torch.Tensor]:
    """Batches of 2x2 RGB images, each image filled with its running number (start, start+1, ...)."""
    out, n = [], start
    for size in sizes:
        out.append(torch.arange(n, n + size).reshape(size, 1, 1, 1).expand(size, 2, 2, 3).clone())
        n += size
    return out


def numbers(batch: torch.Tensor) -> list[float]:
    return batch[:, 0, 0, 0].tolist()


def test_rebatch_images_splits_and_joins_in_order() -> None:
    [out] = RebatchImages.execute(images=images(3, 1, 4), batch_size=[3]).values
    assert [numbers(b) for b in out] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    [out] = RebatchImages.execute(images=images(5), batch_size=[1]).values
    assert [numbers(b) for b in out] == [[0], [1], [2], [3], [4]]
    [out] = RebatchImages.execute(images=images(2, 2), batch_size=[10]).values
    assert [numbers(b) for b in out] == [[0, 1, 2, 3]]
    [out] = RebatchImages.execute(images=[], batch_size=[2]).values
    assert out == []


def latent(n: int, h: int = 2, w: int = 2, start: float = 0.0, **extra: object) -> dict:
    return {"samples": torch.arange(start, start + n).reshape(n, 1, 1, 1).expand(n, 4, h, w).clone(), **extra}


def latent_numbers(item: dict) -> list[float]:
    return item["samples"][:, 0, 0, 0].tolist()


def test_rebatch_latents_batches_and_numbers_indices() -> None:
    [out] = RebatchLatents.execute(latents=[latent(3), latent(2, start=3), latent(2, start=5)],
                                   batch_size=[3]).values
    assert [latent_numbers(x) for x in out] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [x["batch_index"] for x in out] == [[0, 1, 2], [3, 4, 5], [6]]
    assert all(set(x) == {"samples", "batch_index"} for x in out)  # no masks anywhere: no noise_mask


def test_rebatch_latents_keeps_given_batch_index() -> None:
    [out] = RebatchLatents.execute(latents=[latent(2, batch_index=[10, 11]), latent(2, start=2)],
                                   batch_size=[3]).values
    assert [x["batch_index"] for x in out] == [[10, 11, 2], [3]]


def test_rebatch_latents_starts_a_new_batch_when_the_size_changes() -> None:
    parts = [latent(1), latent(1, start=1), latent(2, h=3, w=3, start=2), latent(1, start=4)]
    [out] = RebatchLatents.execute(latents=parts, batch_size=[4]).values
    assert [latent_numbers(x) for x in out] == [[0, 1], [2, 3], [4]]
    assert [tuple(x["samples"].shape) for x in out] == [(2, 4, 2, 2), (2, 4, 3, 3), (1, 4, 2, 2)]
    assert [x["batch_index"] for x in out] == [[0, 1], [2, 3], [4]]


def test_rebatch_latents_noise_masks() -> None:
    mask = torch.zeros(1, 16, 16)  # one mask for a batch of 2 latents 2x2: repeated over the batch
    parts = [latent(1), latent(2, start=1, noise_mask=mask), latent(1, start=3)]
    [out] = RebatchLatents.execute(latents=parts, batch_size=[2]).values
    # first batch: one unmasked sample (ones) and one masked (zeros); second: masked + unmasked
    assert [tuple(x["noise_mask"].shape) for x in out] == [(2, 1, 16, 16), (2, 1, 16, 16)]
    assert [x["noise_mask"][:, 0, 0, 0].tolist() for x in out] == [[1.0, 0.0], [0.0, 1.0]]
    # a batch whose samples are all unmasked drops its all-ones mask
    [out] = RebatchLatents.execute(latents=[latent(2), latent(1, start=2, noise_mask=torch.zeros(1, 1, 16, 16))],
                                   batch_size=[2]).values
    assert "noise_mask" not in out[0] and out[1]["noise_mask"].shape == (1, 1, 16, 16)


def test_rebatch_latents_resizes_masks_of_other_sizes() -> None:
    parts = [latent(1, noise_mask=torch.zeros(1, 1, 16, 16)), latent(1, start=1, noise_mask=torch.zeros(1, 8, 8))]
    [out] = RebatchLatents.execute(latents=parts, batch_size=[2]).values
    assert out[0]["noise_mask"].shape == (2, 1, 16, 16)


async def test_rebatch_images_through_the_executor_feeds_a_list(registry) -> None:
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 2, "height": 2, "batch_size": 5, "color": 0}},
        "2": {"class_type": "RebatchImages", "inputs": {"images": ["1", 0], "batch_size": 2}},
        "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},  # runs once per list item
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "success", result.error
    assert len(result.outputs["4"]["text"]) == 3  # PreviewAny ran once per batch: 2 + 2 + 1
    assert len(result.outputs["5"]["images"]) == 5
