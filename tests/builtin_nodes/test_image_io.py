"""LoadImage (pixels, alpha mask, frames, annotations, IS_CHANGED, VALIDATE_INPUTS), LoadImageMask, ImageScale,
and the combo of input files read again on each /object_info."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from builtin_nodes.image_io import ImageScale, image_io_classes
from host.folders import ModelFolders
from host.registry import Registry


@pytest.fixture
def folders(tmp_path: Path) -> NodeFolders:
    (tmp_path / "input").mkdir()
    return NodeFolders(tmp_path / "input", tmp_path / "output", tmp_path / "temp", ModelFolders(tmp_path / "models"))


def classes(folders: NodeFolders) -> tuple[type, type]:
    live, _ = image_io_classes(folders)
    return live["LoadImage"], live["LoadImageMask"]


def rgba(path: Path) -> np.ndarray:
    pixels = np.zeros((3, 5, 4), dtype=np.uint8)
    pixels[..., 0] = 255
    pixels[..., 1] = np.arange(5, dtype=np.uint8) * 50
    pixels[..., 3] = 64
    Image.fromarray(pixels, "RGBA").save(path)
    return pixels


def test_load_rgba_image_and_mask(folders: NodeFolders) -> None:
    pixels = rgba(folders.input_dir / "a.png")
    load, _ = classes(folders)
    image, mask = load().load_image("a.png")
    assert image.shape == (1, 3, 5, 3) and mask.shape == (1, 3, 5)
    assert torch.allclose(image[0], torch.from_numpy(pixels[..., :3] / 255.0).float())
    assert torch.allclose(mask, torch.full((1, 3, 5), 1 - 64 / 255))


def test_rgb_image_gets_a_64px_zero_mask_and_frames_stack(folders: NodeFolders) -> None:
    frames = [Image.new("RGB", (4, 4), (v, v, v)) for v in (0, 128, 255)]
    frames[0].save(folders.input_dir / "anim.gif", save_all=True, append_images=frames[1:])
    load, _ = classes(folders)
    image, mask = load().load_image("anim.gif")
    assert image.shape == (3, 4, 4, 3) and mask.shape == (3, 64, 64) and not mask.any()


def test_annotated_names_hash_and_validation(folders: NodeFolders) -> None:
    folders.output_dir.mkdir()
    rgba(folders.output_dir / "out.png")
    load, _ = classes(folders)
    assert load().load_image("out.png [output]")[0].shape == (1, 3, 5, 3)
    assert load.VALIDATE_INPUTS("out.png [output]") is True
    assert load.VALIDATE_INPUTS("missing.png") == "Invalid image file: missing.png"
    assert load.VALIDATE_INPUTS("../escape.png") == "Invalid image file: ../escape.png"
    assert len(load.IS_CHANGED("out.png [output]")) == 64


def test_mask_channels(folders: NodeFolders) -> None:
    rgba(folders.input_dir / "a.png")
    _, load_mask = classes(folders)
    [alpha] = load_mask().load_image("a.png", "alpha")
    [green] = load_mask().load_image("a.png", "green")
    assert torch.allclose(alpha, torch.full((1, 3, 5), 1 - 64 / 255))
    assert torch.allclose(green[0, 0], torch.arange(5) * 50 / 255.0)


def test_combo_lists_input_images_and_is_read_again(folders: NodeFolders) -> None:
    reg = Registry()
    load_builtin(reg, OutputPaths(folders.output_dir, folders.temp_dir), folders)
    reg.freeze()
    assert reg.object_info("LoadImage")["LoadImage"]["input"]["required"]["image"][0] == []
    rgba(folders.input_dir / "new.png")
    (folders.input_dir / "notes.txt").write_text("not an image")
    assert reg.object_info("LoadImage")["LoadImage"]["input"]["required"]["image"][0] == ["new.png"]
    assert reg.object_info()["LoadImageMask"]["input"]["required"]["image"][0] == ["new.png"]


def test_image_scale_sizes() -> None:
    image = torch.rand(1, 10, 20, 3)
    assert ImageScale().upscale(image, "bilinear", 0, 0, "disabled")[0] is image
    assert ImageScale().upscale(image, "area", 0, 5, "disabled")[0].shape == (1, 5, 10, 3)
    assert ImageScale().upscale(image, "lanczos", 7, 9, "center")[0].shape == (1, 9, 7, 3)
