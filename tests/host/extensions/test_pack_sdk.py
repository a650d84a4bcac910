"""Packs that use models (issue 19): tests/packs/sdk/sdk_pack, written as ComfyUI packs are, runs isolated in
its own uv venv against a small random SD1.5 checkpoint. Its node that calls ``nodes.CLIPTextEncode``,
``comfy.sample.sample`` and ``nodes.VAEDecode`` from pack code gives the pixels of the same graph built from
host nodes; its SaveImage subclass writes in the child; MODEL values reach it as ModelPatcher proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pack_model_runs import CHECKPOINT, PackRun, run_pack

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "tests" / "packs" / "sdk" / "sdk_pack"

pytestmark = pytest.mark.timeout(600)


def graph(seed: int = 3) -> dict[str, Any]:
    """The pack's text-to-image node and the same graph from host nodes, side by side."""
    clip, model, vae = ["1", 1], ["1", 0], ["1", 2]
    sample = {"sampler_name": "euler", "scheduler": "normal"}
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        # host nodes
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red cube", "clip": clip}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": clip}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {"seed": seed, "steps": 2, "cfg": 7.0, "denoise": 1.0, **sample,
                                                   "model": model, "positive": ["2", 0], "negative": ["3", 0],
                                                   "latent_image": ["4", 0]}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": vae}},
        "7": {"class_type": "SaveImage", "inputs": {"filename_prefix": "host", "images": ["6", 0]}},
        # the pack: the same operations called from its own code
        "10": {"class_type": "SDKTextToImage", "inputs": {
            "model": model, "clip": clip, "vae": vae, "text": "a red cube", "negative": "blurry", "seed": seed,
            "steps": 2, "cfg": 7.0, **sample, "width": 64, "height": 64}},
        "11": {"class_type": "SDKSaveImage", "inputs": {"filename_prefix": "pack", "images": ["10", 0]}},
        "12": {"class_type": "SDKCommonKSampler", "inputs": {"model": model, "positive": ["2", 0],
                                                             "negative": ["3", 0], "latent": ["4", 0],
                                                             "seed": seed, **sample}},
        "13": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": vae}},
        "14": {"class_type": "SDKPreviewFromCore", "inputs": {"images": ["13", 0]}},
        "15": {"class_type": "SDKModelFacts", "inputs": {"model": model}},
        # the model the pack passed through samples on the host as the original
        "16": {"class_type": "KSampler", "inputs": {"seed": seed, "steps": 2, "cfg": 7.0, "denoise": 1.0, **sample,
                                                    "model": ["15", 0], "positive": ["2", 0], "negative": ["3", 0],
                                                    "latent_image": ["4", 0]}},
        "17": {"class_type": "VAEDecode", "inputs": {"samples": ["16", 0], "vae": vae}},
        "18": {"class_type": "SaveImage", "inputs": {"filename_prefix": "through", "images": ["17", 0]}},
        # essentials-style custom sampling with a NOISE object the pack builds
        "19": {"class_type": "SDKCustomAdvanced", "inputs": {"model": model, "positive": ["2", 0],
                                                             "negative": ["3", 0], "latent": ["4", 0],
                                                             "seed": seed, **sample}},
        "20": {"class_type": "VAEDecode", "inputs": {"samples": ["19", 0], "vae": vae}},
        "21": {"class_type": "SaveImage", "inputs": {"filename_prefix": "custom", "images": ["20", 0]}},
    }


def pixels(folder: Path, saved: dict[str, Any]) -> Any:
    from PIL import Image

    [image] = saved["images"]
    with Image.open(folder / image["subfolder"] / image["filename"]) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> PackRun:
    return run_pack(tmp_path_factory, "packsdk", PACK, graph(), "sdk")


def test_the_pack_imports_with_every_node(ran: PackRun) -> None:
    assert ran.status.state == "ready", ran.status.reason
    assert sorted(ran.status.nodes) == ["SDKCommonKSampler", "SDKCustomAdvanced", "SDKModelFacts",
                                        "SDKPreviewFromCore", "SDKSaveImage", "SDKTextToImage"]
    assert ran.result.status == "success", "".join((ran.result.error or {}).get("traceback") or []) or ran.result.error


def test_core_nodes_and_sample_from_pack_code_give_the_host_graphs_pixels(ran: PackRun) -> None:
    host = pixels(ran.output, ran.result.outputs["7"])
    pack = pixels(ran.output, ran.result.outputs["11"])
    assert host.shape == pack.shape == (64, 64, 3)
    assert int(np.abs(host - pack).max()) == 0


def test_save_image_subclass_runs_in_the_pack(ran: PackRun) -> None:
    [saved] = ran.result.outputs["11"]["images"]
    assert saved["filename"] == "pack_sdk_00001_.png" and saved["type"] == "output"
    [preview] = ran.result.outputs["14"]["images"]
    assert preview["type"] == "temp" and preview["filename"].startswith("ComfyUI_temp_")
    # common_ksampler from pack code is the host's KSampler: the same pixels as the host graph
    assert int(np.abs(pixels(ran.temp, ran.result.outputs["14"]) - pixels(ran.output,
                                                                         ran.result.outputs["7"])).max()) == 0


def test_a_model_reaches_the_pack_as_a_model_patcher_proxy(ran: PackRun) -> None:
    [facts] = ran.result.outputs["15"]["facts"]
    assert facts["is_model_patcher"] and facts["model_type"] == "EPS"
    assert facts["latent_scale"] == facts["sd15_scale"] == 0.18215
    assert facts["karras_steps"] == 4 and facts["sigma_max"] > 10
    assert facts["clone_has_patch"] and facts["original_untouched"]
    assert facts["device_type"] == "cpu"
    assert "stand-in" in facts["standin"]  # an extra node the host lacks: importable, raises when used


def test_a_model_passed_back_is_the_hosts_own(ran: PackRun) -> None:
    through = pixels(ran.output, ran.result.outputs["18"])
    assert int(np.abs(through - pixels(ran.output, ran.result.outputs["7"])).max()) == 0


def test_an_executor_monkeypatch_is_one_warning_naming_the_pack(ran: PackRun) -> None:
    notes = " ".join(ran.status.notes)
    assert "execution.get_output_data" in notes and "sdk_pack" in notes


def test_a_noise_object_the_pack_builds_samples_as_the_host_s(ran: PackRun) -> None:
    [facts] = ran.result.outputs["19"]["facts"]
    assert facts.pop("options_error").startswith("NotProvidedError: KSAMPLER 'euler' with extra options ['s_noise']")
    assert facts == {"seed": 3, "empty_seed": 0, "same_as_prepare_noise": True, "empty_is_zero": True,
                     "shape": [1, 4, 8, 8], "twice_equal": True}
    # Noise_RandomNoise(seed) + CFGGuider + BasicScheduler + SamplerCustomAdvanced = KSampler's pixels
    assert int(np.abs(pixels(ran.output, ran.result.outputs["21"]) - pixels(ran.output,
                                                                          ran.result.outputs["7"])).max()) == 0
