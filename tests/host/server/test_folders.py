"""The model-folder registry (host/folders.py): ComfyUI's folders, legacy names, extra_model_paths.yaml, listings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from host.folders import PT_EXTENSIONS, ModelFolders
from host.server.app import ServerConfig
from host.server.safe_paths import PathRefused


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_standard_folders_in_comfyui_order(tmp_path: Path) -> None:
    folders = ModelFolders(tmp_path / "models")
    names = folders.folder_names()
    assert names[:6] == ["checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models"]
    assert {"embeddings", "upscale_models", "custom_nodes", "controlnet", "audio_encoders"} <= set(names)
    assert "unet" not in names and "clip" not in names
    models = tmp_path / "models"
    assert folders.paths("diffusion_models") == [models / "unet", models / "diffusion_models"]
    assert folders.paths("unet") == folders.paths("diffusion_models")
    assert folders.paths("clip") == [models / "text_encoders", models / "clip"]
    assert folders.paths("controlnet") == [models / "controlnet", models / "t2i_adapter"]
    assert folders.extensions("configs") == frozenset({".yaml"}) and folders.extensions("loras") == PT_EXTENSIONS
    assert "clip" in folders and "nope" not in folders and folders.canonical("unet") == "diffusion_models"
    with pytest.raises(KeyError):
        folders.paths("nope")


def test_relative_models_dir_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folders = ModelFolders.from_config(ServerConfig(models_dir=Path("models")))
    assert folders.paths("checkpoints") == [tmp_path / "models" / "checkpoints"]
    assert folders.paths("custom_nodes") == [tmp_path / "custom_nodes"]


def test_filename_list_sorted_recursive_filtered_and_merged(tmp_path: Path) -> None:
    models = tmp_path / "models"
    touch(models / "checkpoints" / "b.safetensors")
    touch(models / "checkpoints" / "sub" / "a.CKPT")
    touch(models / "checkpoints" / "notes.txt")
    touch(models / "checkpoints" / ".git" / "x.safetensors")
    touch(models / "unet" / "u.sft")
    touch(models / "diffusion_models" / "d.gguf")
    touch(models / "diffusion_models" / "u.sft")
    touch(models / "configs" / "v1.yaml")
    touch(models / "classifiers" / "plain")
    touch(models / "classifiers" / "with.ext")
    folders = ModelFolders(models)
    assert folders.filename_list("checkpoints") == ["b.safetensors", "sub/a.CKPT"]
    assert folders.filename_list("unet") == ["u.sft"]  # each name once, .gguf not a ComfyUI extension
    assert folders.filename_list("configs") == ["v1.yaml"]
    assert folders.filename_list("classifiers") == ["plain"]
    assert folders.filename_list("loras") == []  # missing directory


def test_listing_survives_a_symlink_loop_and_follows_links(tmp_path: Path) -> None:
    store = touch(tmp_path / "store" / "big.safetensors").parent
    loras = tmp_path / "models" / "loras"
    touch(loras / "l.pt")
    os.symlink(store, loras / "linked")
    os.symlink(loras, loras / "loop")
    assert ModelFolders(tmp_path / "models").filename_list("loras") == ["l.pt", "linked/big.safetensors"]


def test_full_path_finds_files_and_refuses_escapes(tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = touch(models / "diffusion_models" / "sub" / "m.safetensors")
    touch(models / "unet" / "only_unet.safetensors")
    touch(tmp_path / "secret.safetensors")
    folders = ModelFolders(models)
    assert folders.full_path("unet", "sub/m.safetensors") == first
    assert folders.full_path("diffusion_models", "only_unet.safetensors") == models / "unet" / "only_unet.safetensors"
    assert folders.full_path("diffusion_models", "missing.safetensors") is None
    assert folders.full_path("nope", "m.safetensors") is None
    assert folders.full_path("checkpoints", "") is None
    for bad in ("../../secret.safetensors", "/etc/passwd", "sub/../../x", "%2e%2e/%2e%2e/secret.safetensors",
                "a\x00b.safetensors"):
        with pytest.raises(PathRefused):
            folders.full_path("diffusion_models", bad)


def write_yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_extra_model_paths_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODEHOST_TEST_STORE", str(tmp_path / "envstore"))
    config = write_yaml(tmp_path / "conf" / "extra_model_paths.yaml", """
comfyui:
    base_path: ../other
    is_default: true
    checkpoints: models/checkpoints
    unet: |
        models/unet
        models/more_unets
    my_new_folder: stuff
plain:
    loras:
        - relative_loras
        - /abs/loras
    vae: $NODEHOST_TEST_STORE/vae
    checkpoints: ../other/models/checkpoints
empty:
""")
    folders = ModelFolders.from_config(ServerConfig(models_dir=tmp_path / "models", extra_model_paths=[config]))
    other = tmp_path / "other"
    # is_default puts the section's paths first; the same path named again later is not added twice
    assert folders.paths("checkpoints") == [other / "models" / "checkpoints", tmp_path / "models" / "checkpoints"]
    diffusion = folders.paths("diffusion_models")
    assert diffusion[:2] == [other / "models" / "more_unets", other / "models" / "unet"]
    assert folders.paths("my_new_folder") == [other / "stuff"] and folders.extensions("my_new_folder") == frozenset()
    # no base_path: relative to the yaml's own folder
    assert folders.paths("loras")[1:] == [tmp_path / "conf" / "relative_loras", Path("/abs/loras")]
    assert folders.paths("vae")[-1] == tmp_path / "envstore" / "vae"
    touch(other / "stuff" / "anything.txt")
    assert folders.filename_list("my_new_folder") == ["anything.txt"]


def test_bad_extra_configs_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = write_yaml(tmp_path / "broken.yaml", "a: [unclosed\n")
    listed = write_yaml(tmp_path / "list.yaml", "- just\n- a list\n")
    odd = write_yaml(tmp_path / "odd.yaml", "s:\n  base_path: 5\n  loras: 7\n  vae: [1, x]\n")
    cfg = ServerConfig(models_dir=tmp_path / "models",
                       extra_model_paths=[tmp_path / "missing.yaml", broken, listed, odd])
    folders = ModelFolders.from_config(cfg)
    assert folders.paths("loras") == [tmp_path / "models" / "loras"]
    assert folders.paths("vae") == [tmp_path / "models" / "vae", tmp_path / "x"]
    assert caplog.text.count("skipping extra model paths") == 3
