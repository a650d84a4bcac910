"""CLIP vision and a style model through the executor on the small SD1.5 checkpoint: LoadImage ->
CLIPVisionEncode -> StyleModelApply on the positive prompt changes the image; a bad CLIP vision file is a node
error."""

from __future__ import annotations

import numpy as np
import pytest
from e2e.helpers import Host, txt2img
from PIL import Image

from host.models.testing.control_layouts import write_random
from host.models.testing.vision_layouts import style_adapter_layout, vision_layout

pytestmark = pytest.mark.timeout(300)


def styled(host: Host, vision: str = "tiny_vit.safetensors") -> dict:
    models = host.base / "models"
    if not (models / "clip_vision" / "tiny_vit.safetensors").exists():
        write_random(vision_layout(width=64, layers=2, mlp=128, patch=8, image_size=32, projection=48),
                     models / "clip_vision" / "tiny_vit.safetensors")
        write_random(style_adapter_layout(64, 768, 2, 4), models / "style_models" / "tiny_style.safetensors")
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(
        host.base / "input" / "style.png")
    prompt = txt2img(prefix="styled")
    prompt["10"] = {"class_type": "CLIPVisionLoader", "inputs": {"clip_name": vision}}
    prompt["11"] = {"class_type": "LoadImage", "inputs": {"image": "style.png"}}
    prompt["12"] = {"class_type": "CLIPVisionEncode", "inputs": {"clip_vision": ["10", 0], "image": ["11", 0],
                                                                 "crop": "center"}}
    prompt["13"] = {"class_type": "StyleModelLoader", "inputs": {"style_model_name": "tiny_style.safetensors"}}
    prompt["14"] = {"class_type": "StyleModelApply", "inputs": {
        "conditioning": ["2", 0], "style_model": ["13", 0], "clip_vision_output": ["12", 0], "strength": 1.0,
        "strength_type": "multiply"}}
    prompt["5"]["inputs"]["positive"] = ["14", 0]
    return prompt


def test_style_model_changes_the_image(host: Host) -> None:
    plain = host.pixels(host.run(txt2img(prefix="plain")))
    assert np.abs(host.pixels(host.run(styled(host))) - plain).mean() > 0.5


def test_bad_clip_vision_file_is_a_node_error(host: Host) -> None:
    styled(host)
    (host.base / "models" / "clip_vision" / "broken.safetensors").write_bytes(b"\x00" * 4)
    result = host.run(styled(host, "broken.safetensors"))
    assert result.status == "error" and "broken.safetensors" in str(result.error)
