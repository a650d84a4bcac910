"""``folder_paths`` over the child's folder configuration (NODEHOST_FOLDERS or the defaults)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from isolate import child_services
from isolate.paths import PathEscapeError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_defaults_follow_comfyui_layout_under_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: Any) -> None:
    monkeypatch.chdir(tmp_path)
    fp = load("folder_paths")
    assert fp.base_path == str(tmp_path) and fp.models_dir == str(tmp_path / "models")
    assert fp.get_output_directory() == str(tmp_path / "output")
    assert fp.get_input_directory() == str(tmp_path / "input")
    assert fp.get_temp_directory() == str(tmp_path / "temp")
    assert fp.get_user_directory() == str(tmp_path / "user")
    assert not (tmp_path / "input").exists()  # importing creates nothing
    assert fp.supported_pt_extensions == {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}
    for name in ("checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision",
                 "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models",
                 "latent_upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers",
                 "model_patches", "audio_encoders"):
        assert name in fp.folder_names_and_paths, name
    assert fp.folder_names_and_paths["checkpoints"][1] is fp.supported_pt_extensions
    assert fp.folder_names_and_paths["configs"][1] == {".yaml"}
    models = tmp_path / "models"
    assert fp.get_folder_paths("unet") == [str(models / "unet"), str(models / "diffusion_models")]
    assert fp.get_folder_paths("clip") == fp.get_folder_paths("text_encoders")
    assert fp.get_folder_paths("controlnet")[1].endswith("t2i_adapter")
    assert fp.map_legacy("unet") == "diffusion_models" and fp.map_legacy("loras") == "loras"


def test_configuration_from_the_environment(folders: dict[str, Any], load: Any) -> None:
    fp = load("folder_paths")
    assert fp.base_path == folders["base_path"] and fp.models_dir == folders["models_dir"]
    assert fp.get_output_directory() == folders["output"] == fp.output_directory
    assert fp.get_directory_by_type("input") == folders["input"]
    assert fp.get_directory_by_type("temp") == folders["temp"]
    assert fp.get_directory_by_type("models") is None
    assert fp.get_folder_paths("checkpoints") == folders["folders"]["checkpoints"][0]
    assert fp.folder_names_and_paths["checkpoints"][1] == {".safetensors", ".ckpt"}
    assert fp.get_folder_paths("loras") == [os.path.join(folders["models_dir"], "loras")]  # the defaults stay
    fp.set_output_directory("/elsewhere")
    assert fp.get_output_directory() == "/elsewhere" == child_services.services().output_directory


def test_filename_lists_are_recursive_sorted_filtered_and_refreshed(folders: dict[str, Any], load: Any,
                                                                   tmp_path: Path) -> None:
    fp = load("folder_paths")
    ckpts = tmp_path / "models" / "checkpoints"
    touch(ckpts / "b.safetensors")
    touch(ckpts / "sub" / "a.ckpt")
    touch(ckpts / "notes.txt")
    touch(ckpts / "UPPER.SAFETENSORS")
    touch(ckpts / ".git" / "hidden.safetensors")
    touch(tmp_path / "more_ckpts" / "c.ckpt")
    assert fp.get_filename_list("checkpoints") == ["UPPER.SAFETENSORS", "b.safetensors", "c.ckpt", "sub/a.ckpt"]
    cached = fp.filename_list_cache["checkpoints"]
    assert fp.get_filename_list("checkpoints") == cached[0]
    assert fp.cached_filename_list_("checkpoints") is cached

    touch(ckpts / "sub" / "d.safetensors")
    os.utime(ckpts / "sub", (1, 1))  # the folder time moves whatever the clock resolution
    assert "sub/d.safetensors" in fp.get_filename_list("checkpoints")

    touch(tmp_path / "pack_models" / "anything.xyz")  # no extension filter; a folder that appeared later
    assert fp.get_filename_list("my_pack_models") == ["anything.xyz"]
    with pytest.raises(KeyError):
        fp.get_filename_list("no_such_folder")


def test_get_full_path_finds_files_and_refuses_escapes(folders: dict[str, Any], load: Any, tmp_path: Path) -> None:
    fp = load("folder_paths")
    ckpts = tmp_path / "models" / "checkpoints"
    touch(ckpts / "sub" / "a.ckpt")
    touch(tmp_path / "more_ckpts" / "c.ckpt")
    secret = touch(tmp_path / "models" / "secret.ckpt")
    assert fp.get_full_path("checkpoints", "sub/a.ckpt") == str(ckpts / "sub" / "a.ckpt")
    assert fp.get_full_path("checkpoints", "c.ckpt") == str(tmp_path / "more_ckpts" / "c.ckpt")
    assert fp.get_full_path("checkpoints", "sub/../sub/a.ckpt") == str(ckpts / "sub" / "a.ckpt")
    assert fp.get_full_path("checkpoints", "missing.ckpt") is None
    assert fp.get_full_path("nope", "a.ckpt") is None
    assert fp.get_full_path("checkpoints", "../secret.ckpt") is None
    assert fp.get_full_path("checkpoints", str(secret)) is None
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        fp.get_full_path_or_raise("checkpoints", "../secret.ckpt")
    assert fp.get_full_path_or_raise("checkpoints", "c.ckpt").endswith("c.ckpt")


def test_model_folders_registered_by_a_pack_reach_the_services(folders: dict[str, Any], load: Any) -> None:
    fp = load("folder_paths")
    fp.add_model_folder_path("ipadapter", "/models/ipadapter")
    fp.add_model_folder_path("ipadapter", "/extra/ipadapter")
    fp.add_model_folder_path("ipadapter", "/first/ipadapter", is_default=True)
    fp.add_model_folder_path("ipadapter", "/extra/ipadapter", is_default=True)
    assert fp.get_folder_paths("ipadapter") == ["/extra/ipadapter", "/first/ipadapter", "/models/ipadapter"]
    fp.add_model_folder_path("unet", "/u")
    assert fp.get_folder_paths("diffusion_models")[-1] == "/u"
    fp.folder_names_and_paths["gguf"] = (["/g"], {".gguf"})  # what packs do at import
    cfg = child_services.services().folders_config()
    assert cfg["folders"]["ipadapter"] == [["/extra/ipadapter", "/first/ipadapter", "/models/ipadapter"], []]
    assert cfg["folders"]["gguf"] == [["/g"], [".gguf"]]
    assert cfg["output"] == folders["output"]


def test_annotated_paths(folders: dict[str, Any], load: Any) -> None:
    fp = load("folder_paths")
    assert fp.annotated_filepath("a.png [output]") == ("a.png", folders["output"])
    assert fp.annotated_filepath("a.png") == ("a.png", None)
    assert fp.get_annotated_filepath("a.png [temp]") == os.path.join(folders["temp"], "a.png")
    assert fp.get_annotated_filepath("sub/a.png") == os.path.join(folders["input"], "sub", "a.png")
    assert fp.get_annotated_filepath("a.png", "/d") == "/d/a.png"
    touch(Path(folders["output"]) / "x.png")
    assert fp.exists_annotated_filepath("x.png [output]") and not fp.exists_annotated_filepath("x.png")
    with pytest.raises(PathEscapeError):
        fp.get_annotated_filepath("../out/x.png [input]")
    with pytest.raises(ValueError):
        fp.get_annotated_filepath("/etc/passwd")
    assert not fp.exists_annotated_filepath("../out/x.png [input]")


def test_save_image_path_counter(folders: dict[str, Any], load: Any) -> None:
    fp = load("folder_paths")
    out = folders["output"]
    touch(Path(out) / "ComfyUI_00001_.png")
    touch(Path(out) / "ComfyUI_00007_.png")
    touch(Path(out) / "Other_00042_.png")
    folder, stem, counter, subfolder, prefix = fp.get_save_image_path("ComfyUI", out, 64, 32)
    assert (folder, stem, counter, subfolder, prefix) == (os.path.join(out, ""), "ComfyUI", 8, "", "ComfyUI")
    folder, stem, counter, subfolder, prefix = fp.get_save_image_path("run/%width%x%height%", out, 64, 32)
    assert (stem, counter, subfolder, prefix) == ("64x32", 1, "run", "run/64x32")
    assert folder == os.path.join(out, "run") and os.path.isdir(folder)
    _, stem, _, _, _ = fp.get_save_image_path("img_%year%", out)
    assert stem.startswith("img_20") and "%" not in stem
    with pytest.raises(PathEscapeError):
        fp.get_save_image_path("../escape", out)


def test_listing_helpers(folders: dict[str, Any], load: Any) -> None:
    fp = load("folder_paths")
    inp = Path(folders["input"])
    (inp / "a" / "b").mkdir(parents=True)
    (inp / "c").mkdir()
    assert fp.get_input_subfolders() == ["a", "a/b", "c"]
    files = ["x.png", "y.MP4", "z.wav", "w.safetensors", "v.webp"]
    assert fp.filter_files_content_types(files, ["image"]) == ["x.png", "v.webp"]
    assert fp.filter_files_content_types(files, ["video", "audio"]) == ["y.MP4", "z.wav"]
    assert fp.filter_files_extensions(["b.PT", "a.pt", "c.txt"], {".pt"}) == ["a.pt", "b.PT"]
    assert fp.filter_files_extensions(["b", "a"], set()) == ["a", "b"]
    files, dirs = fp.recursive_search(str(inp))
    assert files == [] and set(dirs) == {str(inp), str(inp / "a"), str(inp / "a" / "b"), str(inp / "c")}
    os.symlink(inp, inp / "a" / "loop")
    files, dirs = fp.recursive_search(str(inp))  # a link loop ends
    assert str(inp / "a" / "loop") not in dirs
    assert fp.get_system_user_directory() == os.path.join(folders["user"], "__system")
    assert fp.get_public_user_directory("__system") is None
    assert fp.get_public_user_directory("default") == os.path.join(folders["user"], "default")
    with pytest.raises(ValueError):
        fp.get_system_user_directory("_x")


def test_cache_helper_trusts_a_scan_within_its_block(folders: dict[str, Any], load: Any, tmp_path: Path) -> None:
    fp = load("folder_paths")
    touch(tmp_path / "pack_models" / "one.bin")
    with fp.cache_helper:
        assert fp.get_filename_list("my_pack_models") == ["one.bin"]
        touch(tmp_path / "pack_models" / "two.bin")
        os.utime(tmp_path / "pack_models", (1, 1))
        assert fp.get_filename_list("my_pack_models") == ["one.bin"]
    assert fp.get_filename_list("my_pack_models") == ["one.bin", "two.bin"]


def test_bad_environment_falls_back_to_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, load: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(child_services.ENV_VAR, "{not json")
    fp = load("folder_paths")
    assert fp.base_path == str(tmp_path)
    assert "NODEHOST_FOLDERS" in caplog.text
