"""End-to-end generation helpers: a small random SD1.5 checkpoint in a ComfyUI folder layout, and a host (the
builtin nodes, one ModelManager on the CPU, an executor) over it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.executor.events import ListSink
from host.executor.executor import Executor
from host.models.manager import ModelManager
from host.registry import Registry

CHECKPOINT = "small_sd15.safetensors"


def make_checkpoint(out: Path, family: str = "sd15") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", family, "--size",
                    "small", "--out", str(out)], check=True, timeout=300)
    return out


@dataclass
class Host:
    registry: Registry
    executor: Executor
    sink: ListSink
    manager: ModelManager
    base: Path
    output: Path

    def pixels(self, result: Any, node: str = "7") -> Any:
        assert result.status == "success", result.error
        return saved_pixels(self.output, result, node)

    def run(self, prompt: dict[str, Any], prompt_id: str = "p") -> Any:
        import asyncio

        return asyncio.run(self.executor.run(prompt, prompt_id))


def txt2img(seed: int = 1, steps: int = 3, size: int = 64, text: str = "a red cube on a table",
            prefix: str = "t2i", ckpt: str = CHECKPOINT, clip_skip: int | None = None) -> dict[str, Any]:
    """ComfyUI's default workflow in API form, small."""
    clip: list[Any] = ["1", 1]
    prompt: dict[str, Any] = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": clip}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": clip}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0, "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0],
            "latent_image": ["4", 0]}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["6", 0]}},
    }
    if clip_skip is not None:
        prompt["8"] = {"class_type": "CLIPSetLastLayer", "inputs": {"clip": ["1", 1], "stop_at_clip_layer": clip_skip}}
        prompt["2"]["inputs"]["clip"] = prompt["3"]["inputs"]["clip"] = ["8", 0]
    return prompt


def saved_pixels(output_dir: Path, result: Any, node: str = "7") -> Any:
    """The RGB pixels (int16, so differences do not wrap) of the one image ``node`` saved."""
    import numpy as np
    from PIL import Image

    [image] = result.outputs[node]["images"]
    with Image.open(output_dir / image["subfolder"] / image["filename"]) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)
