"""ComfyUI_essentials' sampling pattern (tests/packs/real/essentials_style): a ``comfy.samplers.KSampler``
object built in pack code, its ``sigmas`` and ``sample``, run isolated against a small random SD1.5. Sampling
with it gives the host KSampler's pixels (denoise 1 and 0.5); its sigmas are the host scheduler's, with
ComfyUI's penultimate-sigma rule and denoise tail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pack_model_runs import CHECKPOINT, PackRun, run_pack

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "tests" / "packs" / "real" / "essentials_style"

pytestmark = pytest.mark.timeout(600)


def graph(seed: int = 5) -> dict[str, Any]:
    clip, model, vae = ["1", 1], ["1", 0], ["1", 2]
    common = {"seed": seed, "steps": 2, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
              "model": model, "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0]}
    prompt: dict[str, Any] = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a green sphere", "clip": clip}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": clip}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    }
    for i, (cls, denoise) in enumerate([("KSampler", 1.0), ("KSamplerObjectEssStyle", 1.0),
                                        ("KSampler", 0.5), ("KSamplerObjectEssStyle", 0.5)]):
        at = 10 + 3 * i
        prompt[str(at)] = {"class_type": cls, "inputs": {**common, "denoise": denoise}}
        prompt[str(at + 1)] = {"class_type": "VAEDecode", "inputs": {"samples": [str(at), 0], "vae": vae}}
        prompt[str(at + 2)] = {"class_type": "SaveImage", "inputs": {"filename_prefix": f"s{i}",
                                                                      "images": [str(at + 1), 0]}}
    # tokens edited in ComfyUI's form: the second prompt's CLIP-L tokens encode as that prompt does
    prompt["40"] = {"class_type": "TokensSwapEssStyle", "inputs": {"clip": clip, "text": "a red cube",
                                                                   "text_l": "a green sphere"}}
    prompt["41"] = {"class_type": "KSampler", "inputs": {**common, "positive": ["40", 0], "denoise": 1.0}}
    prompt["42"] = {"class_type": "VAEDecode", "inputs": {"samples": ["41", 0], "vae": vae}}
    prompt["43"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "tokens", "images": ["42", 0]}}
    # a clone with a wrapper and a callback samples on the host (without them, with a warning)
    prompt["50"] = {"class_type": "WrapperPatchEssStyle", "inputs": {"model": model}}
    prompt["51"] = {"class_type": "KSampler", "inputs": {**common, "model": ["50", 0], "denoise": 1.0}}
    prompt["52"] = {"class_type": "VAEDecode", "inputs": {"samples": ["51", 0], "vae": vae}}
    prompt["53"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "wrapped", "images": ["52", 0]}}
    for at, sampler, steps, denoise in ((30, "euler", 4, 1.0), (31, "dpm_2", 4, 1.0), (32, "euler", 2, 0.5)):
        prompt[str(at)] = {"class_type": "SigmasEssStyle", "inputs": {
            "model": model, "steps": steps, "sampler_name": sampler, "scheduler": "normal", "denoise": denoise}}
    return prompt


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> PackRun:
    return run_pack(tmp_path_factory, "realmodels", PACK, graph(), "ess")


def pixels(ran: PackRun, node: str) -> Any:
    from PIL import Image

    [image] = ran.result.outputs[node]["images"]
    with Image.open(ran.output / image["subfolder"] / image["filename"]) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


def shown(ran: PackRun, node: str) -> dict[str, Any]:
    [value] = ran.result.outputs[node]["text"]
    return value


def test_the_pack_registers_and_the_prompt_runs(ran: PackRun) -> None:
    assert ran.status.state == "ready", ran.status.reason
    assert sorted(ran.status.nodes) == ["KSamplerObjectEssStyle", "SigmasEssStyle", "TokensSwapEssStyle",
                                        "WrapperPatchEssStyle"]
    assert ran.result.status == "success", "".join((ran.result.error or {}).get("traceback") or []) or ran.result.error


def test_a_ksampler_object_samples_as_the_hosts_ksampler(ran: PackRun) -> None:
    full_host, full_pack = pixels(ran, "12"), pixels(ran, "15")
    assert full_host.shape == (64, 64, 3) and float(full_host.std()) > 1
    assert int(np.abs(full_host - full_pack).max()) == 0
    half_host, half_pack = pixels(ran, "18"), pixels(ran, "21")
    assert int(np.abs(half_host - half_pack).max()) == 0
    assert int(np.abs(half_host - full_host).max()) > 0  # denoise 0.5 is another schedule


def test_its_sigmas_follow_comfyuis_rules(ran: PackRun) -> None:
    euler, dpm2, half = shown(ran, "30"), shown(ran, "31"), shown(ran, "32")
    assert euler["is_tensor"] and len(euler["sigmas"]) == 5 and euler["sigmas"][-1] == 0.0
    assert euler["sigmas"] == sorted(euler["sigmas"], reverse=True)
    assert len(dpm2["sigmas"]) == 5 and dpm2["sigmas"][-1] == 0.0 and dpm2["sigmas"] != euler["sigmas"]
    assert dpm2["sigmas"][0] == euler["sigmas"][0]  # 6 computed, the penultimate dropped
    assert half["sigmas"] == euler["sigmas"][-3:]  # denoise 0.5 over 2 steps: the tail of 4
    assert euler["scaled_range"] == round(euler["sigmas"][0] / 0.18215, 3)


def test_tokens_cross_in_comfyuis_form_and_encode_after_editing(ran: PackRun) -> None:
    assert shown(ran, "40") == {"keys": ["l"], "chunk": 77, "start": 49406, "weight": 1.0}
    assert int(np.abs(pixels(ran, "43") - pixels(ran, "12")).max()) == 0  # "a green sphere" as the host encodes it


def test_wrappers_and_callbacks_are_recorded_on_the_clone(ran: PackRun) -> None:
    assert shown(ran, "50") == {"wrappers": 1, "callbacks": 1, "original": 0}
    assert int(np.abs(pixels(ran, "53") - pixels(ran, "12")).max()) == 0  # not applied by the host yet
