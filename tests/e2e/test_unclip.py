"""unCLIP through the executor on a small random SD2.1 unCLIP checkpoint: unCLIPCheckpointLoader's CLIP vision
encodes an image, unCLIPConditioning changes the image, strength 0 gives the plain pixels."""

from __future__ import annotations

import numpy as np
import pytest
from e2e.helpers import Host, txt2img
from PIL import Image

from host.models.testing.vision_layouts import write_unclip_checkpoint

pytestmark = pytest.mark.timeout(300)

CKPT = "small_unclip_h.safetensors"


def unclip_prompt(host: Host, strength: float, prefix: str) -> dict:
    path = host.base / "models" / "checkpoints" / CKPT
    if not path.exists():
        write_unclip_checkpoint(path)
        Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
            host.base / "input" / "unclip.png")
    prompt = txt2img(prefix=prefix, ckpt=CKPT)
    prompt["1"] = {"class_type": "unCLIPCheckpointLoader", "inputs": {"ckpt_name": CKPT}}
    prompt["10"] = {"class_type": "LoadImage", "inputs": {"image": "unclip.png"}}
    prompt["11"] = {"class_type": "CLIPVisionEncode", "inputs": {"clip_vision": ["1", 3], "image": ["10", 0],
                                                                 "crop": "none"}}
    prompt["12"] = {"class_type": "unCLIPConditioning", "inputs": {
        "conditioning": ["2", 0], "clip_vision_output": ["11", 0], "strength": strength, "noise_augmentation": 0.1}}
    prompt["5"]["inputs"]["positive"] = ["12", 0]
    return prompt


def test_unclip_conditioning_changes_the_image(host: Host) -> None:
    on = host.pixels(host.run(unclip_prompt(host, 1.0, "on")))
    off = host.pixels(host.run(unclip_prompt(host, 0.0, "off")))
    plain = host.pixels(host.run(txt2img(prefix="plain", ckpt=CKPT)))
    assert np.array_equal(off, plain)
    assert np.abs(on - plain).mean() > 0.5
