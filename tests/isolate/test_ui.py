"""ui outputs: previews written to the run's temp folder, saved-file results, save helpers."""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from isolate import paths
from isolate.api import io, ui


@pytest.fixture
def out(tmp_path: Path) -> Iterator[paths.OutputPaths]:
    p = paths.OutputPaths(output_dir=tmp_path / "output", temp_dir=tmp_path / "temp")
    token = paths.CURRENT_PATHS.set(p)
    yield p
    paths.CURRENT_PATHS.reset(token)


def node_with_hidden(prompt, extra) -> type[io.ComfyNode]:
    class Node(io.ComfyNode):
        hidden = io.HiddenHolder(prompt=prompt, extra_pnginfo=extra)

    return Node


def test_preview_image_saves_temp_pngs_with_metadata(out: paths.OutputPaths) -> None:
    images = torch.tensor([[[[0.0, 0.5, 2.0]]], [[[1.0, -1.0, 0.25]]]]).expand(2, 3, 4, 3)  # [B, H, W, C]
    preview = ui.PreviewImage(images, cls=node_with_hidden({"1": {"class_type": "X"}}, {"workflow": {"id": "w"}}))
    d = preview.as_dict()
    assert d["animated"] == [False] and [i["type"] for i in d["images"]] == ["temp", "temp"]
    first, second = d["images"]
    assert re.fullmatch(r"ComfyUI_temp_[a-z]{5}_00001_\.png", first["filename"]) and first["subfolder"] == ""
    assert second["filename"] == first["filename"].replace("00001", "00002")
    with Image.open(out.temp_dir / first["filename"]) as img:
        assert img.size == (4, 3)
        assert json.loads(img.text["prompt"]) == {"1": {"class_type": "X"}}
        assert json.loads(img.text["workflow"]) == {"id": "w"}
        assert tuple(np.asarray(img)[0, 0]) == (0, 127, 255)  # clip(255 * x) as uint8
    json.dumps(d)  # plain JSON data


def test_preview_without_a_node_class_has_no_metadata(out: paths.OutputPaths) -> None:
    d = ui.PreviewImage(torch.zeros(1, 2, 2, 3), animated=True).as_dict()
    assert d["animated"] == [True]
    with Image.open(out.temp_dir / d["images"][0]["filename"]) as img:
        assert "prompt" not in img.text


def test_preview_mask_is_grey(out: paths.OutputPaths) -> None:
    d = ui.PreviewMask(torch.full((1, 2, 3), 1.0)).as_dict()
    with Image.open(out.temp_dir / d["images"][0]["filename"]) as img:
        assert img.mode == "RGB" and img.size == (3, 2) and tuple(np.asarray(img)[1, 2]) == (255, 255, 255)


def test_preview_text_video_and_saved_results() -> None:
    assert ui.PreviewText("hi").as_dict() == {"text": ["hi"]}
    saved = ui.SavedResult("a.png", "sub", io.FolderType.output)
    assert saved == {"filename": "a.png", "subfolder": "sub", "type": "output"}
    assert saved.filename == "a.png" and saved.subfolder == "sub" and saved.type is io.FolderType.output
    assert ui.SavedImages([saved]).as_dict() == {"images": [dict(saved)]}
    assert ui.SavedImages([saved], is_animated=True).as_dict()["animated"] == [True]
    assert ui.PreviewVideo([saved]).as_dict() == {"images": [dict(saved)], "animated": [True]}
    assert ui.SavedAudios([saved]).as_dict() == {"audio": [dict(saved)]}


def test_previews_need_a_running_node() -> None:
    with pytest.raises(RuntimeError, match="output paths"):
        ui.PreviewImage(torch.zeros(1, 1, 1, 3))


def test_save_images_counts_on_in_subfolders(out: paths.OutputPaths) -> None:
    images = torch.zeros(1, 2, 2, 3)
    first = ui.ImageSaveHelper.get_save_images_ui(images, "run/pic", cls=None).as_dict()["images"][0]
    second = ui.ImageSaveHelper.save_images(images, "run/pic", io.FolderType.output, None)[0]
    assert first == {"filename": "pic_00001_.png", "subfolder": "run", "type": "output"}
    assert second.filename == "pic_00002_.png" and (out.output_dir / "run" / "pic_00002_.png").exists()


def test_animated_png_and_webp(out: paths.OutputPaths) -> None:
    frames = torch.rand(3, 4, 4, 3)
    cls = node_with_hidden({"p": 1}, None)
    png = ui.ImageSaveHelper.get_save_animated_png_ui(frames, "anim", cls, fps=6.0, compress_level=4).as_dict()
    assert png["animated"] == [True] and png["images"][0]["filename"] == "anim_00001_.png"
    data = (out.output_dir / "anim_00001_.png").read_bytes()
    assert b"comf" in data and b'prompt\x00{"p": 1}' in data
    with Image.open(out.output_dir / "anim_00001_.png") as img:
        assert img.n_frames == 3
    webp = ui.ImageSaveHelper.get_save_animated_webp_ui(frames[:1], "anim", cls, 6.0, True, 80, 4).as_dict()
    # one frame: not animated; the counter goes on after the PNG, whatever the extension
    assert webp == {"images": [{"filename": "anim_00002_.webp", "subfolder": "", "type": "output"}]}
    with Image.open(out.output_dir / "anim_00002_.webp") as img:
        assert img.getexif()[0x0110] == 'prompt:{"p": 1}'


def test_audio_saves_wav_and_preview(out: paths.OutputPaths) -> None:
    audio = {"waveform": torch.stack([torch.linspace(-1, 1, 100)] * 2)[None], "sample_rate": 8000}
    d = ui.PreviewAudio(audio).as_dict()
    name = d["audio"][0]["filename"]
    assert re.fullmatch(r"ComfyUI_temp_[a-z]{5}_00001\.wav", name) and d["audio"][0]["type"] == "temp"
    with wave.open(str(out.temp_dir / name)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 100)
    saved = [ui.AudioSaveHelper.get_save_audio_ui(audio, "snd", None).as_dict()["audio"][0]["filename"]
             for _ in range(2)]
    assert saved == ["snd_00001.wav", "snd_00002.wav"]
    with pytest.raises(NotImplementedError, match="PyAV"):
        ui.AudioSaveHelper.save_audio(audio, "snd", io.FolderType.output, None, format="flac")


def test_preview_ui3d_saves_its_background(out: paths.OutputPaths) -> None:
    assert ui.PreviewUI3D("m.glb", {"zoom": 1}).as_dict() == {"result": ["m.glb", {"zoom": 1}, None]}
    d = ui.PreviewUI3D("m.glb", None, bg_image=torch.zeros(1, 2, 2, 3)).as_dict()
    bg = d["result"][2]
    assert bg.startswith("temp/bg_") and (out.temp_dir / bg.removeprefix("temp/")).exists()


def test_input_folder_is_not_a_save_target(out: paths.OutputPaths) -> None:
    with pytest.raises(ValueError, match="input folder"):
        ui.ImageSaveHelper.save_images(torch.zeros(1, 1, 1, 3), "x", io.FolderType.input, None)
