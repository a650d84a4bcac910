"""SaveLatent / LoadLatent (.latent files as ComfyUI writes them), LoadImageOutput and CustomCombo, through the
executor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from builtin_nodes.latent_files import LEGACY_LATENT_SCALE, NotALatentFile, read_latent
from host.executor.errors import ValidationFailed
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.folders import ModelFolders
from host.registry import Registry


@pytest.fixture
def folders(tmp_path: Path, paths: OutputPaths) -> NodeFolders:
    (tmp_path / "input").mkdir()
    return NodeFolders(tmp_path / "input", paths.output_dir, paths.temp_dir, ModelFolders(tmp_path / "models"))


@pytest.fixture
def reg(paths: OutputPaths, folders: NodeFolders) -> Registry:
    registry = Registry()
    load_builtin(registry, paths, folders)
    return registry.freeze()


async def run(registry, prompt, extra=None, ok=True):
    result = await Executor(registry, ListSink()).run(prompt, "p", extra)
    if ok:
        assert result.status == "success", result.error
    return result


def save_prompt(prefix: str = "latents/ComfyUI") -> dict:
    return {"1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 32, "batch_size": 2}},
            "2": {"class_type": "LatentMultiply", "inputs": {"samples": ["1", 0], "multiplier": 1.0}},
            "3": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": prefix}}}


async def test_save_latent_writes_comfyui_latent_file(reg, paths) -> None:
    result = await run(reg, save_prompt(), {"extra_pnginfo": {"workflow": {"id": "w"}}})
    assert result.outputs["3"] == {"latents": [
        {"filename": "ComfyUI_00001_.latent", "subfolder": "latents", "type": "output"}]}
    path = paths.output_dir / "latents" / "ComfyUI_00001_.latent"
    tensors = safetensors.torch.load_file(str(path))
    assert set(tensors) == {"latent_tensor", "latent_format_version_0"}
    assert tensors["latent_tensor"].shape == (2, 4, 4, 8) and tensors["latent_format_version_0"].numel() == 0
    with safetensors.safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert json.loads(meta["prompt"])["3"]["class_type"] == "SaveLatent"
    assert json.loads(meta["workflow"]) == {"id": "w"}
    await run(reg, save_prompt())
    assert (paths.output_dir / "latents" / "ComfyUI_00002_.latent").exists()


async def test_save_latent_refuses_paths_outside_the_output(reg) -> None:
    result = await run(reg, save_prompt("../../escape"), ok=False)
    assert result.status == "error" and result.error["exception_type"] == "isolate.paths.PathEscapeError"


async def test_load_latent_lists_input_latents_and_round_trips(reg, folders, paths) -> None:
    samples = torch.randn(1, 4, 3, 5)
    safetensors.torch.save_file({"latent_tensor": samples, "latent_format_version_0": torch.tensor([])},
                                str(folders.input_dir / "mine.latent"))
    (folders.input_dir / "picture.png").write_bytes(b"")
    reg.refresh()
    assert reg.object_info("LoadLatent")["LoadLatent"]["input"]["required"]["latent"] == [["mine.latent"]]
    prompt = {"1": {"class_type": "LoadLatent", "inputs": {"latent": "mine.latent"}},
              "2": {"class_type": "LatentMultiply", "inputs": {"samples": ["1", 0], "multiplier": 2.0}},
              "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "again"}}}
    await run(reg, prompt)
    saved = read_latent(paths.output_dir / "again_00001_.latent")
    assert torch.allclose(saved["samples"], samples * 2.0)


def test_read_latent_scales_files_without_the_version_key(tmp_path: Path) -> None:
    samples = torch.ones(1, 4, 2, 2, dtype=torch.float16)
    safetensors.torch.save_file({"latent_tensor": samples}, str(tmp_path / "old.latent"))
    loaded = read_latent(tmp_path / "old.latent")["samples"]
    assert loaded.dtype == torch.float32 and torch.allclose(loaded, torch.full((1, 4, 2, 2), 1 / LEGACY_LATENT_SCALE))
    safetensors.torch.save_file({"other": samples}, str(tmp_path / "bad.latent"))
    with pytest.raises(NotALatentFile):
        read_latent(tmp_path / "bad.latent")


async def test_load_latent_missing_file_fails_validation(reg) -> None:
    with pytest.raises(ValidationFailed) as failed:
        await run(reg, {"1": {"class_type": "LoadLatent", "inputs": {"latent": "nope.latent"}},
                        "2": {"class_type": "SaveLatent", "inputs": {"samples": ["1", 0], "filename_prefix": "x"}}})
    assert "Invalid latent file: nope.latent" in json.dumps(failed.value.body())


async def test_load_image_output_reads_the_output_folder(reg, paths) -> None:
    paths.output_dir.mkdir(parents=True)
    pixels = np.zeros((3, 4, 4), dtype=np.uint8)
    pixels[..., 0], pixels[..., 3] = 255, 128
    Image.fromarray(pixels, "RGBA").save(paths.output_dir / "gen_00001_.png")
    prompt = {"1": {"class_type": "LoadImageOutput", "inputs": {"image": "gen_00001_.png [output]"}},
              "2": {"class_type": "GetImageSize", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 1]}},
              "4": {"class_type": "ImageStitch", "inputs": {
                  "image1": ["1", 0], "image2": ["3", 0], "direction": "right", "match_image_size": True,
                  "spacing_width": 0, "spacing_color": "white"}},
              "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "out"}}}
    await run(reg, prompt)
    with Image.open(paths.output_dir / "out_00001_.png") as img:
        saved = np.asarray(img)
    assert saved.shape == (3, 8, 3)
    assert tuple(saved[0, 0]) == (255, 0, 0) and saved[0, 5, 0] == 126  # mask = 1 - 128/255 -> 127/255 -> 126
    with pytest.raises(ValidationFailed) as failed:
        await run(reg, {"1": {"class_type": "LoadImageOutput", "inputs": {"image": "nope.png [output]"}},
                        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}})
    assert "Invalid image file: nope.png [output]" in json.dumps(failed.value.body())


async def test_custom_combo_passes_any_choice_through(reg) -> None:
    prompt = {"1": {"class_type": "CustomCombo", "inputs": {"choice": "my option"}},
              "2": {"class_type": "StringLength", "inputs": {"string": ["1", 0]}},
              "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}}
    result = await run(reg, prompt)
    assert result.outputs["3"] == {"text": ["9"]}
