"""Against stock ComfyUI: ../shared/data/comfyui_reference/txt2img_tiny_api.json on the oracle checkpoint
(../shared/tools/make_sd15_checkpoint.py --variant tiny) must give txt2img_tiny_seed42.png within 2/255 in
every pixel. Runs when ../shared is beside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.executor.caches import make_cache
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.folders import ModelFolders
from host.models.devices import DeviceConfig
from host.models.manager import ModelManager
from host.registry import Registry

SHARED = Path(__file__).resolve().parents[3] / "shared"
REFERENCE = SHARED / "data" / "comfyui_reference"
TOOL = SHARED / "tools" / "make_sd15_checkpoint.py"
MAX_DIFF = 2

pytestmark = [pytest.mark.timeout(600), pytest.mark.skipif(not REFERENCE.is_dir() or not TOOL.is_file(),
                                                          reason="../shared not beside the checkout")]


def test_txt2img_tiny_matches_comfyui(tmp_path: Path) -> None:
    import asyncio

    from PIL import Image

    checkpoints = tmp_path / "models" / "checkpoints"
    checkpoints.mkdir(parents=True)
    subprocess.run([sys.executable, str(TOOL), "--variant", "tiny", "--out",
                    str(checkpoints / "oracle_sd15_tiny.safetensors")], check=True, timeout=300,
                   capture_output=True)
    prompt = json.loads((REFERENCE / "txt2img_tiny_api.json").read_text())
    paths = OutputPaths(tmp_path / "output", tmp_path / "temp")
    models = ModelFolders(tmp_path / "models")
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(tmp_path / "input", paths.output_dir, paths.temp_dir, models))
    manager = ModelManager(DeviceConfig(cpu=True), models)
    executor = Executor(registry.freeze(), ListSink(), make_cache(none=True), models=manager)
    result = asyncio.run(executor.run(prompt, "oracle"))
    assert result.status == "success", result.error
    [image] = result.outputs["7"]["images"]
    with Image.open(paths.output_dir / image["filename"]) as ours, Image.open(
            REFERENCE / "txt2img_tiny_seed42.png") as theirs:
        a = np.asarray(ours.convert("RGB")).astype(np.int16)
        b = np.asarray(theirs.convert("RGB")).astype(np.int16)
    diff = np.abs(a - b)
    print(f"max abs pixel diff {diff.max()}/255, mean {diff.mean():.3f}, mean value ours {a.mean():.1f} "
          f"theirs {b.mean():.1f}")
    assert a.shape == b.shape and diff.max() <= MAX_DIFF
