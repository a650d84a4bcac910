"""DiffusersLoader through the executor: the small SD1.5 checkpoint written as a diffusers folder gives the
checkpoint's pixels; a folder without its VAE is a node error naming it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from e2e.helpers import CHECKPOINT, Host, txt2img

from host.models.testing.diffusers_folder import write_diffusers_folder

pytestmark = pytest.mark.timeout(300)


def test_diffusers_folder_gives_the_checkpoints_pixels(host: Host) -> None:
    folder = host.base / "models" / "diffusers" / "small_sd15"
    if not folder.exists():
        write_diffusers_folder(host.base / "models" / "checkpoints" / CHECKPOINT, folder, num_res_blocks=1)
    plain = host.pixels(host.run(txt2img(prefix="ckpt")))
    prompt = txt2img(prefix="diffusers")
    prompt["1"] = {"class_type": "DiffusersLoader", "inputs": {"model_path": "small_sd15"}}
    assert np.array_equal(host.pixels(host.run(prompt)), plain)

    broken = host.base / "models" / "diffusers" / "no_vae"
    if not broken.exists():
        shutil.copytree(folder, broken)
        shutil.rmtree(broken / "vae")
    prompt["1"] = {"class_type": "DiffusersLoader", "inputs": {"model_path": "no_vae"}}
    result = host.run(prompt)
    assert result.status == "error" and "no vae weights" in str(result.error) and "no_vae" in str(result.error)
