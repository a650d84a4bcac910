"""SaveAnimatedPNG / SaveAnimatedWEBP / SaveSVGNode / MaskPreview: files in the bound folders, frames, metadata,
path checks."""

from __future__ import annotations

import io as _io
import json

import numpy as np
import pytest
from PIL import Image, ImageSequence

from builtin_nodes.animated import SaveSVGNode, animated_nodes, svg_documents, with_metadata
from builtin_nodes.paths import PathEscapeError
from host.executor.events import ListSink
from host.executor.executor import Executor
from isolate.paths import OutputPaths


def empty(color: int, b: int = 3, w: int = 8, h: int = 6) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": w, "height": h, "batch_size": b, "color": color}}


COLORS = (0x204060, 0xFF0000, 0x00FF80)  # three different frames (Pillow merges identical ones)


def frames_prompt(node: str, **inputs) -> dict:
    prompt = {f"c{i}": empty(c, b=1) for i, c in enumerate(COLORS)}
    prompt["b1"] = {"class_type": "ImageBatch", "inputs": {"image1": ["c0", 0], "image2": ["c1", 0]}}
    prompt["b2"] = {"class_type": "ImageBatch", "inputs": {"image1": ["b1", 0], "image2": ["c2", 0]}}
    prompt["4"] = {"class_type": node, "inputs": {"images": ["b2", 0], **inputs}}
    return prompt


def rgb(color: int) -> tuple[int, int, int]:
    return (color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF


async def run(registry, prompt, extra=None):
    result = await Executor(registry, ListSink()).run(prompt, "p", extra)
    assert result.status == "success", result.error
    return result


async def test_save_animated_png_writes_one_apng_with_every_frame(registry, paths) -> None:
    prompt = frames_prompt("SaveAnimatedPNG", filename_prefix="anim/clip", fps=4.0, compress_level=9)
    result = await run(registry, prompt, {"extra_pnginfo": {"workflow": {"id": "w"}}})
    assert result.outputs["4"] == {"images": [{"filename": "clip_00001_.png", "subfolder": "anim", "type": "output"}],
                                   "animated": [True]}
    path = paths.output_dir / "anim" / "clip_00001_.png"
    with Image.open(path) as img:
        assert img.n_frames == 3 and img.size == (8, 6) and img.info["duration"] == 250
        first = np.asarray(img.convert("RGB"))
    assert tuple(first[0, 0]) == rgb(COLORS[0])
    raw = path.read_bytes()
    assert b"comf" in raw and b'"class_type": "SaveAnimatedPNG"' in raw and b'workflow\x00{"id": "w"}' in raw
    await run(registry, prompt)
    assert (paths.output_dir / "anim" / "clip_00002_.png").exists()  # the counter continues


async def test_save_animated_webp_lossless_frames_and_exif(registry, paths) -> None:
    prompt = frames_prompt("SaveAnimatedWEBP", filename_prefix="w", fps=10.0, lossless=True, quality=80,
                           method="fastest")
    result = await run(registry, prompt, {"extra_pnginfo": {"workflow": {"id": "w"}}})
    assert result.outputs["4"]["images"] == [{"filename": "w_00001_.webp", "subfolder": "", "type": "output"}]
    with Image.open(paths.output_dir / "w_00001_.webp") as img:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(img)]
        exif = img.getexif()
    assert [tuple(f[3, 3]) for f in frames] == [rgb(c) for c in COLORS]  # lossless
    assert exif[0x0110].startswith("prompt:") and json.loads(exif[0x0110][7:])["4"]["class_type"] == "SaveAnimatedWEBP"
    assert exif[0x010F] == 'workflow:{"id": "w"}'


async def test_single_frame_is_not_animated(registry) -> None:
    prompt = {"1": empty(0, b=1), "2": {"class_type": "SaveAnimatedPNG", "inputs": {
        "images": ["1", 0], "filename_prefix": "one", "fps": 6.0, "compress_level": 4}}}
    assert "animated" not in (await run(registry, prompt)).outputs["2"]


@pytest.mark.parametrize("node", ["SaveAnimatedPNG", "SaveAnimatedWEBP"])
async def test_animations_refuse_paths_outside_the_output(registry, node: str) -> None:
    extra = {"compress_level": 4} if node == "SaveAnimatedPNG" else {"lossless": True, "quality": 80,
                                                                      "method": "default"}
    prompt = frames_prompt(node, filename_prefix="../../evil", fps=6.0, **extra)
    result = await Executor(registry, ListSink()).run(prompt, "p")
    assert result.status == "error" and result.error["exception_type"] == "isolate.paths.PathEscapeError"


async def test_mask_preview_writes_grey_pngs_to_temp(registry, paths) -> None:
    prompt = {"1": {"class_type": "SolidMask", "inputs": {"value": 0.5, "width": 5, "height": 4}},
              "2": {"class_type": "MaskPreview", "inputs": {"mask": ["1", 0]}}}
    [item] = (await run(registry, prompt)).outputs["2"]["images"]
    assert item["type"] == "temp" and item["filename"].startswith("ComfyUI_temp_")
    with Image.open(paths.temp_dir / item["filename"]) as img:
        assert img.size == (5, 4) and img.mode == "RGB" and tuple(np.asarray(img)[0, 0]) == (127, 127, 127)
        assert "prompt" not in img.info


class Svg:
    """ComfyUI's SVG value: ``data`` is a list of BytesIO."""

    def __init__(self, *docs: str) -> None:
        self.data = [_io.BytesIO(d.encode()) for d in docs]


def test_svg_documents_and_metadata_element() -> None:
    assert svg_documents(Svg("<svg/>", "<svg></svg>")) == [b"<svg/>", b"<svg></svg>"]
    assert svg_documents("<svg/>") == [b"<svg/>"] and svg_documents([b"<svg/>"]) == [b"<svg/>"]
    doc = with_metadata('<?xml version="1.0"?><svg width="2"><rect/></svg>', {"prompt": {"1": {}}})
    assert doc.startswith('<?xml version="1.0"?><svg width="2">\n  <metadata>\n    <![CDATA[\n')
    assert json.loads(doc.split("<![CDATA[")[1].split("]]>")[0]) == {"prompt": {"1": {}}}
    assert doc.endswith("</metadata>\n<rect/></svg>")
    assert with_metadata("<svg/>", {}) == "<svg/>"


def test_save_svg_node_files_metadata_and_paths(paths: OutputPaths) -> None:
    node = next(c for c in animated_nodes(paths) if c.__name__ == "SaveSVGNode")
    clone = node.PREPARE_CLASS_CLONE({"PROMPT": {"1": {"class_type": "X"}}, "EXTRA_PNGINFO": {"workflow": {"a": 1}}})
    ui = clone.execute(svg=Svg('<svg id="a"></svg>', '<svg id="b"></svg>'), filename_prefix="svg/v_%batch_num%").ui
    assert ui == {"images": [{"filename": "v_0_00001_.svg", "subfolder": "svg", "type": "output"},
                             {"filename": "v_1_00002_.svg", "subfolder": "svg", "type": "output"}]}
    text = (paths.output_dir / "svg" / "v_1_00002_.svg").read_text()
    meta = json.loads(text.split("<![CDATA[")[1].split("]]>")[0])
    assert meta == {"prompt": {"1": {"class_type": "X"}}, "workflow": {"a": 1}} and text.startswith('<svg id="b">')
    with pytest.raises(PathEscapeError):
        clone.execute(svg=Svg("<svg/>"), filename_prefix="../outside")
    plain = type("SaveSVGNode", (SaveSVGNode,), {"paths": OutputPaths(paths.output_dir, paths.temp_dir, False)})
    plain.PREPARE_CLASS_CLONE({"PROMPT": {"1": {}}}).execute(svg=Svg("<svg/>"), filename_prefix="m")
    assert (paths.output_dir / "m_00001_.svg").read_text() == "<svg/>"  # --disable-metadata
