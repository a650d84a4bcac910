"""The loader nodes' combos list the model folders, read again by /object_info and by validation: a checkpoint
dropped into models/checkpoints is accepted without a restart; VAELoader always offers pixel_space."""

from __future__ import annotations

from pathlib import Path

import pytest

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.executor.errors import ValidationFailed
from host.executor.validation import validate_prompt
from host.folders import ModelFolders
from host.registry import Registry


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Registry, Path]:
    models = tmp_path / "models"
    reg = Registry()
    load_builtin(reg, OutputPaths(tmp_path / "o", tmp_path / "t"),
                 NodeFolders(tmp_path / "input", tmp_path / "o", tmp_path / "t", ModelFolders(models)))
    return reg.freeze(), models


def combo(reg: Registry, node: str, name: str) -> list[str]:
    return reg.object_info(node)[node]["input"]["required"][name][0]


async def test_a_dropped_checkpoint_validates_without_restart(setup: tuple[Registry, Path]) -> None:
    reg, models = setup
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sub/new.safetensors"}},
              "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}}
    with pytest.raises(ValidationFailed):
        await validate_prompt(prompt, reg)
    (models / "checkpoints" / "sub").mkdir(parents=True)
    (models / "checkpoints" / "sub" / "new.safetensors").write_bytes(b"")
    (models / "checkpoints" / "notes.txt").write_text("not a model")
    assert (await validate_prompt(prompt, reg)).outputs == ["2"]
    assert combo(reg, "CheckpointLoaderSimple", "ckpt_name") == ["sub/new.safetensors"]
    assert combo(reg, "CheckpointLoader", "ckpt_name") == ["sub/new.safetensors"]


def test_other_folders(setup: tuple[Registry, Path]) -> None:
    reg, models = setup
    for folder, name in (("vae", "v.pt"), ("unet", "u.safetensors"), ("text_encoders", "c.safetensors")):
        (models / folder).mkdir(parents=True)
        (models / folder / name).write_bytes(b"")
    assert combo(reg, "VAELoader", "vae_name") == ["v.pt", "pixel_space"]
    assert combo(reg, "UNETLoader", "unet_name") == ["u.safetensors"]  # models/unet: the legacy folder name
    assert combo(reg, "CLIPLoader", "clip_name") == ["c.safetensors"]
