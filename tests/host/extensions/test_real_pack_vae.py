"""ComfyUI-KJNodes' VAE loader pattern (tests/packs/real/kjvae_style): ``comfy.utils.load_torch_file`` of a file
in the vae folder, then ``comfy.sd.VAE(sd=...)``. The host's model manager loads that file (the weights never
become a model in the pack): the VAE decodes as the host's VAELoader of the same file does. A state dict the
pack changed is refused with a NotProvidedError naming why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pack_model_runs import CHECKPOINT, PackRun, run_pack_prompts

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "tests" / "packs" / "real" / "kjvae_style"
VAE_FILE = "small_vae.safetensors"

pytestmark = pytest.mark.timeout(600)


def write_vae(models: Path) -> None:
    """The checkpoint's VAE as a file of its own (``first_stage_model.`` dropped), as VAE files are."""
    from safetensors.torch import load_file, save_file

    sd = load_file(models / "checkpoints" / CHECKPOINT)
    vae = {k[len("first_stage_model."):]: v for k, v in sd.items() if k.startswith("first_stage_model.")}
    (models / "vae").mkdir(parents=True, exist_ok=True)
    save_file(vae, models / "vae" / VAE_FILE)


def graph(rename: bool) -> dict[str, Any]:
    latent = {"class_type": "EmptyLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 1}}
    prompt: dict[str, Any] = {"1": latent}
    prompt["2"] = {"class_type": "VAELoaderKJStyle", "inputs": {"vae_name": VAE_FILE, "device": "main_device",
                                                                "weight_dtype": "bf16", "rename_a_key": rename}}
    prompt["3"] = {"class_type": "VAELoader", "inputs": {"vae_name": VAE_FILE}}
    for at, vae in (("4", "2"), ("6", "3")):
        prompt[at] = {"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": [vae, 0]}}
        prompt[str(int(at) + 1)] = {"class_type": "SaveImage", "inputs": {"filename_prefix": f"vae{vae}",
                                                                          "images": [at, 0]}}
    return prompt


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> PackRun:
    return run_pack_prompts(tmp_path_factory, "realvae", PACK, [(graph(False), "vae"), (graph(True), "renamed")],
                            before_load=write_vae)


def pixels(ran: PackRun, result: Any, node: str) -> Any:
    from PIL import Image

    [image] = result.outputs[node]["images"]
    with Image.open(ran.output / image["subfolder"] / image["filename"]) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


def test_a_vae_the_pack_builds_from_a_file_is_the_hosts_load_of_it(ran: PackRun) -> None:
    assert ran.status.state == "ready" and ran.status.nodes == ["VAELoaderKJStyle"], ran.status.reason
    result = ran.results[0]
    assert result.status == "success", "".join((result.error or {}).get("traceback") or []) or result.error
    pack, host = pixels(ran, result, "5"), pixels(ran, result, "7")
    assert pack.shape == (32, 32, 3) and float(host.std()) > 0
    assert int(np.abs(pack - host).max()) == 0


def test_a_state_dict_the_pack_changed_is_refused_by_name(ran: PackRun) -> None:
    result = ran.results[1]
    assert result.status == "error"
    assert result.error["exception_type"].endswith("NotProvidedError"), result.error
    assert "changed since load_torch_file read them" in result.error["exception_message"]
    assert result.error["node_type"] == "VAELoaderKJStyle"
