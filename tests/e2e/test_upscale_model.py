"""An upscale with a model through the executor: LoadImage -> UpscaleModelLoader (a small random ESRGAN in the
original key layout) -> ImageUpscaleWithModel -> SaveImage; progress per tile; a bad file is a node error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e2e.helpers import Host
from PIL import Image

from host.executor.events import Progress
from host.models.testing.control_layouts import write_random
from host.models.testing.upscale_layouts import esrgan_layout

pytestmark = pytest.mark.timeout(300)


def upscale_prompt(model: str) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "small.png"}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "7": {"class_type": "SaveImage", "inputs": {"filename_prefix": "up", "images": ["3", 0]}},
    }


def test_upscale_with_a_model(host: Host) -> None:
    write_random(esrgan_layout(nf=32, gc=16, nb=1), host.base / "models" / "upscale_models" / "4x_tiny.pth",
                 dtype=torch.float32)
    rgb = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(host.base / "input" / "small.png")
    result = host.run(upscale_prompt("4x_tiny.pth"))
    assert host.pixels(result).shape == (96, 160, 3)
    assert [(e.value, e.max) for e in host.sink.of(Progress) if e.node == "3"] == [(1, 1)]


def test_bad_upscale_model_is_a_node_error(host: Host) -> None:
    (host.base / "models" / "upscale_models").mkdir(parents=True, exist_ok=True)
    (host.base / "models" / "upscale_models" / "junk.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(host.base / "input" / "small.png")
    result = host.run(upscale_prompt("junk.safetensors"))
    assert result.status == "error" and "junk.safetensors" in str(result.error)
