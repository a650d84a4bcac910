"""The mask, image and latent nodes on inputs that live on another device (CUDA where there is one): the results
stay on that device (or come back to the CPU where ComfyUI's do) and equal the CPU results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from builtin_nodes import image_extras as ie
from builtin_nodes import latent_operations as ops
from builtin_nodes import latent_ops as lo
from builtin_nodes import latent_transform as lt
from builtin_nodes import mask_nodes as m
from builtin_nodes.image_stitch import stitch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def v3(node: type, **kwargs: Any) -> Any:
    return node.execute(**kwargs).values[0]


def inputs(device: str) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    return {k: v.to(device) for k, v in {
        "image": torch.rand(2, 16, 12, 3, generator=g), "image2": torch.rand(1, 8, 10, 4, generator=g),
        "mask": torch.rand(2, 16, 12, generator=g), "small_mask": torch.rand(5, 7, generator=g),
        "latent": torch.randn(2, 4, 8, 8, generator=g), "latent2": torch.randn(1, 4, 4, 6, generator=g)}.items()}


CASES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "composite": lambda t: v3(m.ImageCompositeMasked, destination=t["image"], source=t["image2"], x=3, y=5,
                              resize_source=False, mask=t["small_mask"]),
    "latent_composite": lambda t: v3(m.LatentCompositeMasked, destination={"samples": t["latent"]},
                                     source={"samples": t["latent2"]}, x=8, y=16, resize_source=True,
                                     mask=t["small_mask"])["samples"],
    "mask_composite": lambda t: v3(m.MaskComposite, destination=t["mask"], source=t["small_mask"], x=4, y=2,
                                   operation="xor"),
    "feather": lambda t: v3(m.FeatherMask, mask=t["mask"], left=3, top=2, right=4, bottom=1),
    "grow": lambda t: v3(m.GrowMask, mask=t["mask"], expand=3, tapered_corners=True),
    "shrink": lambda t: v3(m.GrowMask, mask=t["mask"], expand=-2, tapered_corners=False),
    "color": lambda t: v3(m.ImageColorToMask, image=t["image"], color=0x102030),
    "noise": lambda t: v3(ie.ImageAddNoise, image=t["image"], seed=3, strength=0.3),
    "pad": lambda t: v3(ie.ResizeAndPadImage, image=t["image"], target_width=20, target_height=20,
                        padding_color="white", interpolation="lanczos"),
    "max_dim": lambda t: v3(ie.ImageScaleToMaxDimension, image=t["image"], upscale_method="bicubic",
                            largest_size=24),
    "rotate": lambda t: v3(ie.ImageRotate, image=t["image"], rotation="90 degrees"),
    "stitch": lambda t: stitch(t["image"], t["image2"], "down", True, 4, "blue"),
    "stitch_pad": lambda t: stitch(t["image"], t["image2"], "left", False, 2, "white"),
    "outpaint": lambda t: ie.ImagePadForOutpaint().expand_image(t["image"], 8, 0, 8, 16, 3)[1],
    "add": lambda t: v3(lo.LatentAdd, samples1={"samples": t["latent"]}, samples2={"samples": t["latent2"]})["samples"],
    "interpolate": lambda t: v3(lo.LatentInterpolate, samples1={"samples": t["latent"]},
                                samples2={"samples": t["latent2"]}, ratio=0.3)["samples"],
    "blend": lambda t: lt.LatentBlend().blend({"samples": t["latent"]}, {"samples": t["latent2"]}, 0.4)[0]["samples"],
    "feathered_composite": lambda t: lt.LatentComposite().composite({"samples": t["latent"]},
                                                                    {"samples": t["latent2"]}, 16, 8,
                                                                    feather=16)[0]["samples"],
    "tonemap": lambda t: ops.tonemap_reinhard(0.5)(latent=t["latent"]),
    "sharpen": lambda t: ops.sharpen(2, 1.0, 0.3)(latent=t["latent"]),
}
#: results that ComfyUI builds on the CPU whatever the input's device
CPU_RESULTS = {"outpaint"}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
def test_node_on_device_equals_cpu(case: str, device: str) -> None:
    expected = CASES[case](inputs("cpu"))
    got = CASES[case](inputs(device))
    assert got.device.type == ("cpu" if case in CPU_RESULTS else device)
    assert got.shape == expected.shape
    assert torch.allclose(got.cpu(), expected, atol=1e-4), case
