"""The rest of the v3 API: ComfyExtension, ComfyAPI progress through the context hook, Input/InputImpl/Types."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from isolate.api import ComfyAPI, ComfyAPISync, ComfyExtension, Input, InputImpl, Types, io
from isolate.context import CURRENT_NODE, NodeContext


class Node(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema("Node")

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput()


async def test_extension_defaults() -> None:
    class Ext(ComfyExtension):
        async def get_node_list(self):
            return [Node]

    assert await Ext().get_node_list() == [Node] and await Ext().on_load() is None
    with pytest.raises(TypeError):
        ComfyExtension()  # get_node_list is abstract, as in ComfyUI


class Hook:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def progress(self, node_id: str, value: float, max_value: float | None, preview: Any = None,
                 legacy: bool = True) -> None:
        assert legacy is False  # set_progress updates the node state only, never the legacy `progress` message
        self.calls.append((value, max_value, node_id, preview))


async def test_set_progress_goes_to_the_context_hook() -> None:
    hook = Hook()
    token = CURRENT_NODE.set(NodeContext("p", "5", 0, hook))
    try:
        await ComfyAPI().execution.set_progress(1, 4)
        ComfyAPISync().execution.set_progress(2.5, 4, node_id="7")
        pil = Image.new("RGB", (2, 2))
        ComfyAPISync().execution.set_progress(3, 4, preview_image=pil, ignore_size_limit=True)
        await ComfyAPI().execution.set_progress(4, 4, preview_image=torch.ones(2, 3, 5, 3))
    finally:
        CURRENT_NODE.reset(token)
    assert hook.calls[:2] == [(1, 4, "5", None), (2.5, 4, "7", None)]
    assert hook.calls[2][3] == ("JPEG", pil, None)
    fmt, image, max_size = hook.calls[3][3]
    assert (fmt, image.size, max_size) == ("JPEG", (5, 3), 512) and image.getpixel((0, 0)) == (255, 255, 255)


async def test_set_progress_outside_a_run_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="progress hook"):
        await ComfyAPI().execution.set_progress(1, 2)
    with pytest.raises(RuntimeError, match="progress hook"):
        ComfyAPISync().execution.set_progress(1, 2)


def test_input_namespaces() -> None:
    assert Input.Image is torch.Tensor and Input.Mask is torch.Tensor
    assert set(Input.Audio.__annotations__) == {"waveform", "sample_rate"}
    assert "samples" in Input.Latent.__annotations__
    video = InputImpl.VideoFromComponents(Types.VideoComponents(torch.zeros(12, 4, 6, 3), Fraction(24)))
    assert isinstance(video, Input.Video)
    assert video.get_dimensions() == (6, 4) and video.get_duration() == 0.5
    with pytest.raises(NotImplementedError, match="PyAV"):
        video.save_to("x.mp4")
    assert Types.VideoContainer.get_extension("auto") == "mp4" and Types.VideoCodec.as_input() == ["auto", "h264"]
    assert Types.MESH(1, 2).faces == 2 and Types.VOXEL(3).data == 3


def test_importing_the_api_imports_no_torch_numpy_or_pil() -> None:
    code = ("import sys, isolate.api, isolate.api.ui, isolate.v3, isolate.v3_dynamic, isolate.compat_path;"
            "print(sorted(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
