"""Image nodes: pixels, PNG metadata, ComfyUI's file counter, folders and path checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from builtin_nodes.paths import PathEscapeError, save_image_path
from host.executor.events import ListSink
from host.executor.executor import Executor


def empty(color: int = 0, w: int = 4, h: int = 3, b: int = 1) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": w, "height": h, "batch_size": b, "color": color}}


async def run(registry, prompt, extra=None):
    result = await Executor(registry, ListSink()).run(prompt, "p", extra)
    assert result.status == "success", result.error
    return result


async def test_save_image_writes_png_with_metadata_and_counter(registry, paths) -> None:
    prompt = {"1": empty(0xFF8000, b=2), "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "sub/pic"}}}
    result = await run(registry, prompt, {"extra_pnginfo": {"workflow": {"nodes": []}}})
    assert result.outputs["3"] == {"images": [
        {"filename": "pic_00001_.png", "subfolder": "sub", "type": "output"},
        {"filename": "pic_00002_.png", "subfolder": "sub", "type": "output"}]}
    img = Image.open(paths.output_dir / "sub" / "pic_00001_.png")
    assert img.size == (4, 3)
    assert tuple(np.asarray(img)[0, 0]) == (0, 126, 255)  # 1 - (255,128,0)/255 = 126.99.. truncated
    assert json.loads(img.text["prompt"])["3"]["class_type"] == "SaveImage"
    assert json.loads(img.text["workflow"]) == {"nodes": []}
    prompt["1"] = empty(0x000001)
    result = await run(registry, prompt)
    assert result.outputs["3"]["images"][0]["filename"] == "pic_00003_.png"  # counter continues after 00002


async def test_pixels_are_truncated_not_rounded(registry, paths) -> None:
    # color 0x808080 -> 128/255; inverted 127/255 * 255 = 126.99.. -> 126 by truncation (127 if rounded)
    prompt = {"1": empty(0x808080), "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "t"}}}
    await run(registry, prompt)
    px = np.asarray(Image.open(paths.output_dir / "t_00001_.png"))[0, 0]
    expected = np.clip(255.0 * (1.0 - np.float32(128 / 255)), 0, 255).astype(np.uint8)
    assert px[0] == expected


async def test_preview_image_goes_to_temp(registry, paths) -> None:
    result = await run(registry, {"1": empty(), "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}})
    [item] = result.outputs["2"]["images"]
    assert item["type"] == "temp" and item["filename"].startswith("ComfyUI_temp_")
    assert item["filename"].endswith("_00001_.png") and (paths.temp_dir / item["filename"]).exists()


async def test_save_outside_output_is_an_execution_error(registry) -> None:
    sink = ListSink()
    prompt = {"1": empty(), "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                                         "filename_prefix": "../../evil"}}}
    result = await Executor(registry, sink).run(prompt, "p")
    assert result.status == "error" and result.error["exception_type"] == "isolate.paths.PathEscapeError"


def test_save_image_path(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x_00007_.png").touch()
    assert save_image_path("a/x", tmp_path, 1, 1)[1:] == ("x", "a", 8)
    assert save_image_path("img_%width%x%height%", tmp_path, 64, 32)[1:] == ("img_64x32", "", 1)
    with pytest.raises(PathEscapeError):
        save_image_path("/etc/x", tmp_path, 1, 1)


async def test_empty_image_color_and_batch(registry) -> None:
    from builtin_nodes.images import EmptyImage

    image = EmptyImage.execute(width=2, height=3, batch_size=2, color=0x00FF00).values[0]
    assert tuple(image.shape) == (2, 3, 2, 3)
    assert image[1, 2, 1].tolist() == [0.0, 1.0, 0.0]


async def test_disable_metadata(tmp_path) -> None:
    from builtin_nodes import load_builtin
    from host.registry import Registry
    from isolate.paths import OutputPaths

    paths = OutputPaths(tmp_path / "o", tmp_path / "t", metadata=False)
    registry = Registry()
    load_builtin(registry, paths)
    prompt = {"1": empty(), "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "m"}}}
    await run(registry.freeze(), prompt, {"extra_pnginfo": {"workflow": {}}})
    assert Image.open(paths.output_dir / "m_00001_.png").text == {}


def test_claimed_names_skip_files_that_appeared_after_the_folder_was_listed(tmp_path) -> None:
    from isolate.paths import claim_image_name

    folder, stem, _, counter = save_image_path("race", tmp_path, 4, 3)
    (tmp_path / "race_00001_.png").write_bytes(b"another process's image")  # saved between listing and writing
    (tmp_path / "race_00002_.png").write_bytes(b"and another")
    assert claim_image_name(folder, stem, counter) == ("race_00003_.png", 3)
    assert (tmp_path / "race_00003_.png").read_bytes() == b""  # taken at once
    assert (tmp_path / "race_00001_.png").read_bytes() == b"another process's image"


def test_saves_of_one_prefix_at_the_same_instant_make_one_file_each(paths) -> None:
    import threading

    import torch

    from builtin_nodes.images import image_nodes

    [save] = [n for n in image_nodes(paths) if n.__name__ == "SaveImage"]
    start = threading.Barrier(6)
    names: list[str] = []

    def one(value: float) -> None:
        start.wait()
        names.extend(r["filename"] for r in save.save(torch.full((1, 3, 4, 3), value), "same"))

    threads = [threading.Thread(target=one, args=(i / 10,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(names) == [f"same_{i:05}_.png" for i in range(1, 7)]
    pixels = {int(np.asarray(Image.open(paths.output_dir / n))[0, 0, 0]) for n in names}
    assert len(pixels) == 6  # six different images, none written over
