"""SD1.5 ControlNet workflows through the executor on the small checkpoint: a small random ControlNet in the
real key layout changes the image, strength 0 gives the plain pixels, the OLD node and a diff ControlNet run,
and a bad file is a node error naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e.helpers import Host, txt2img
from PIL import Image

from host.models.testing.control_layouts import SMALL_UNET, controlnet_layout, write_random

pytestmark = pytest.mark.timeout(300)

CONTROLNET = "small_control_sd15.safetensors"


@pytest.fixture
def controlnet(host: Host) -> str:
    path = host.base / "models" / "controlnet" / CONTROLNET
    if not path.exists():
        write_random(controlnet_layout(SMALL_UNET), path, seed=3, prefix="control_model.")
    hint = host.base / "input" / "hint.png"
    if not hint.exists():
        rgb = np.zeros((64, 64, 3), dtype=np.uint8)
        rgb[16:48, 16:48] = 255  # a white square: an edge map
        Image.fromarray(rgb).save(hint)
    return CONTROLNET


def with_controlnet(strength: float = 1.0, prefix: str = "cn", old: bool = False, diff: bool = False,
                    start: float = 0.0, end: float = 1.0, name: str = CONTROLNET) -> dict[str, Any]:
    prompt = txt2img(prefix=prefix)
    loader: dict[str, Any] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": name}}
    if diff:
        loader = {"class_type": "DiffControlNetLoader", "inputs": {"model": ["1", 0], "control_net_name": name}}
    prompt["10"] = loader
    prompt["11"] = {"class_type": "LoadImage", "inputs": {"image": "hint.png"}}
    if old:
        prompt["12"] = {"class_type": "ControlNetApply", "inputs": {
            "conditioning": ["2", 0], "control_net": ["10", 0], "image": ["11", 0], "strength": strength}}
        prompt["5"]["inputs"]["positive"] = ["12", 0]
    else:
        prompt["12"] = {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["2", 0], "negative": ["3", 0], "control_net": ["10", 0], "image": ["11", 0],
            "strength": strength, "start_percent": start, "end_percent": end}}
        prompt["5"]["inputs"]["positive"] = ["12", 0]
        prompt["5"]["inputs"]["negative"] = ["12", 1]
    return prompt


def test_controlnet_changes_the_image_and_strength_zero_does_not(host: Host, controlnet: str) -> None:
    plain = host.pixels(host.run(txt2img(prefix="plain")))
    controlled = host.pixels(host.run(with_controlnet(1.0, prefix="on")))
    assert np.abs(controlled - plain).mean() > 1
    off = host.pixels(host.run(with_controlnet(0.0, prefix="off")))
    assert np.array_equal(off, plain)
    never = host.pixels(host.run(with_controlnet(1.0, prefix="never", start=0.0, end=0.0)))
    assert np.abs(never - plain).max() <= 1  # no step in range: the UNet runs alone (batching may differ by ulps)


def test_old_apply_and_diff_loader_run(host: Host, controlnet: str) -> None:
    plain = host.pixels(host.run(txt2img(prefix="plain")))
    old = host.pixels(host.run(with_controlnet(1.0, prefix="old", old=True)))
    assert np.abs(old - plain).mean() > 1
    diff = host.run(with_controlnet(1.0, prefix="diff", diff=True))
    assert host.pixels(diff).shape == (64, 64, 3)


def test_bad_controlnet_file_is_a_node_error(host: Host, controlnet: str) -> None:
    bad = host.base / "models" / "controlnet" / "broken.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    result = host.run(with_controlnet(1.0, prefix="bad", name="broken.safetensors"))
    assert result.status == "error"
    assert "broken.safetensors" in str(result.error)
    bad.unlink()


def test_controlnet_folder_is_listed(host: Host, controlnet: str, tmp_path: Path) -> None:
    host.registry.refresh(["ControlNetLoader"])
    info = host.registry.object_info("ControlNetLoader")["ControlNetLoader"]
    assert CONTROLNET in info["input"]["required"]["control_net_name"][0]
