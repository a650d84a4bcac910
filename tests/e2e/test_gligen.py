"""GLIGEN through the executor on the small SD1.5 checkpoint: a text box changes the image; the next prompt
without it gives the plain pixels again (the UNet is unpatched)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e2e.helpers import Host, txt2img

from host.models.testing.control_layouts import SMALL_UNET, gligen_layout, write_random

pytestmark = pytest.mark.timeout(300)


def test_gligen_text_box(host: Host) -> None:
    path = host.base / "models" / "gligen" / "small_gligen.safetensors"
    if not path.exists():
        write_random(gligen_layout(SMALL_UNET), path, dtype=torch.float32)
    plain = host.pixels(host.run(txt2img(prefix="plain")))
    prompt = txt2img(prefix="boxed")
    prompt["10"] = {"class_type": "GLIGENLoader", "inputs": {"gligen_name": "small_gligen.safetensors"}}
    prompt["11"] = {"class_type": "GLIGENTextBoxApply", "inputs": {
        "conditioning_to": ["2", 0], "clip": ["1", 1], "gligen_textbox_model": ["10", 0], "text": "a cat",
        "width": 32, "height": 32, "x": 16, "y": 8}}
    prompt["5"]["inputs"]["positive"] = ["11", 0]
    boxed = host.pixels(host.run(prompt))
    assert np.abs(boxed - plain).mean() > 0.5
    again = host.pixels(host.run(txt2img(prefix="again")))
    assert np.array_equal(again, plain)
