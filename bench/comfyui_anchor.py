"""The anchor for bench/sampling.py: the same workflows timed in stock ComfyUI, on the same checkpoints.

Run by ``bench/sampling.py --comfyui DIR`` with the Python of an environment that has ComfyUI's requirements
(``--comfyui-python``); not imported by nodehost. It drives ComfyUI's own node classes in one process, as its
executor would (no server): CheckpointLoaderSimple, CLIPTextEncode x2, EmptyLatentImage, KSampler (4 steps,
euler, normal, cfg 7), VAEDecode, and LoraLoader for the LoRA figures, and measures what bench/sampling.py
measures: the loader node's time, the first prompt at 128 px, the median step time (steps after the first,
from ComfyUI's progress-bar hook), the LoRA's loader time plus the time ``load_models_gpu`` spends readying the
patched models, and the same for SDXL. The decoded images are written as PNGs (``--images``) so the caller
compares pixels with its own.

ComfyUI imports torchvision in modules that SD1.x/SDXL never use (Cascade, Cosmos); where torchvision is missing
(there is no CPU build for this torch here) a module with its two names is put on the path first, so the import
succeeds; nothing in these workflows calls it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

POSITIVE = "a photograph of an astronaut riding a horse"
NEGATIVE = "blurry, low quality"


def torchvision_placeholder() -> None:
    if importlib.util.find_spec("torchvision") is not None:
        return
    root = Path(tempfile.mkdtemp(prefix="anchor-tv-")) / "torchvision"
    root.mkdir()
    (root / "__init__.py").write_text("from . import transforms\n")
    (root / "transforms.py").write_text(
        "def __getattr__(name):\n    raise AttributeError(f'torchvision.transforms.{name}: not installed')\n")
    sys.path.insert(0, str(root.parent))


class Steps:
    """Per-step stamps from ComfyUI's progress-bar hook."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def hook(self, value: int, total: int, preview: Any, node_id: Any = None) -> None:
        self.stamps.append(time.perf_counter())

    def median(self) -> float:
        gaps = [b - a for a, b in zip(self.stamps, self.stamps[1:], strict=False)]
        return statistics.median(gaps) if gaps else float("nan")


class Anchor:
    def __init__(self, comfyui: Path, models: Path, images: Path) -> None:
        os.chdir(comfyui)
        sys.path.insert(0, str(comfyui))
        torchvision_placeholder()
        import comfy.options

        comfy.options.enable_args_parsing(False)
        import comfy.cli_args

        comfy.cli_args.args.cpu = True
        import comfy.model_management
        import comfy.utils
        import folder_paths
        import nodes

        folder_paths.add_model_folder_path("checkpoints", str(models / "checkpoints"), is_default=True)
        folder_paths.add_model_folder_path("loras", str(models / "loras"), is_default=True)
        self.nodes, self.mm = nodes, comfy.model_management
        self.steps = Steps()
        comfy.utils.set_progress_bar_global_hook(self.steps.hook)
        self.images = images
        self.readying: list[float] = []
        original = comfy.model_management.load_models_gpu

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.readying.append(time.perf_counter() - t)

        comfy.model_management.load_models_gpu = timed

    def load(self, ckpt: str) -> tuple[tuple[Any, Any, Any], float]:
        import torch

        t = time.perf_counter()
        with torch.inference_mode():
            out = self.nodes.CheckpointLoaderSimple().load_checkpoint(ckpt)
        return out[:3], time.perf_counter() - t

    def prompt(self, model: Any, clip: Any, vae: Any, size: int, seed: int, name: str) -> dict[str, float]:
        """One run of the workflow from the encoders on; returns each node's time and the step time."""
        import torch

        with torch.inference_mode():  # as ComfyUI's executor runs every node
            return self._prompt(model, clip, vae, size, seed, name)

    def _prompt(self, model: Any, clip: Any, vae: Any, size: int, seed: int, name: str) -> dict[str, float]:
        import numpy as np
        from PIL import Image

        n = self.nodes
        self.steps.stamps.clear()
        t0 = time.perf_counter()
        pos = n.CLIPTextEncode().encode(clip, POSITIVE)[0]
        neg = n.CLIPTextEncode().encode(clip, NEGATIVE)[0]
        t1 = time.perf_counter()
        latent = n.EmptyLatentImage().generate(size, size, 1)[0]
        samples = n.KSampler().sample(model, seed, 4, 7.0, "euler", "normal", pos, neg, latent, denoise=1.0)[0]
        t2 = time.perf_counter()
        image = n.VAEDecode().decode(vae, samples)[0]
        t3 = time.perf_counter()
        pixels = np.clip(255.0 * image[0].cpu().numpy(), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(self.images / f"{name}.png")
        return {"encode_s": t1 - t0, "ksampler_s": t2 - t1, "vae_decode_s": t3 - t2, "s_per_it": self.steps.median()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comfyui", type=Path, required=True, help="a ComfyUI checkout")
    parser.add_argument("--models", type=Path, required=True, help="folder with checkpoints/ and loras/")
    parser.add_argument("--images", type=Path, required=True, help="where the decoded PNGs go")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--lora", default="")
    parser.add_argument("--sdxl", default="", help="an SDXL checkpoint name: also time it at 512")
    parser.add_argument("--sizes", default="128,512")
    args = parser.parse_args()
    import torch

    args.images.mkdir(parents=True, exist_ok=True)
    anchor = Anchor(args.comfyui.resolve(), args.models.resolve(), args.images.resolve())
    out: dict[str, Any] = {"load_avg_1m": os.getloadavg()[0]}

    t0 = time.perf_counter()
    (model, clip, vae), out["load_s"] = anchor.load(args.checkpoint)
    first = anchor.prompt(model, clip, vae, 128, 42, "first")
    out["first_prompt_128_s"] = time.perf_counter() - t0
    for key in ("encode_s", "ksampler_s", "vae_decode_s"):
        out[f"first_prompt_{key}"] = first[key]
    for size in (int(s) for s in args.sizes.split(",")):
        figures = anchor.prompt(model, clip, vae, size, size, f"p{size}")
        out[f"s_per_it_{size}"] = figures["s_per_it"]
        out[f"vae_decode_{size}_s"] = figures["vae_decode_s"]
    if args.lora:
        anchor.readying.clear()
        t = time.perf_counter()
        with torch.inference_mode():
            lmodel, lclip = anchor.nodes.LoraLoader().load_lora(model, clip, args.lora, 1.0, 1.0)
        loader_s = time.perf_counter() - t
        anchor.prompt(lmodel, lclip, vae, 128, 7, "lora")
        out["lora_apply_s"] = loader_s + sum(anchor.readying)
        del lmodel, lclip
        anchor.readying.clear()
        anchor.prompt(model, clip, vae, 128, 7, "after-lora")
        out["lora_undo_s"] = sum(anchor.readying)
    if args.sdxl:
        del model, clip, vae
        anchor.mm.unload_all_models()
        anchor.mm.soft_empty_cache()
        t0 = time.perf_counter()
        (model, clip, vae), out["sdxl_load_s"] = anchor.load(args.sdxl)
        figures = anchor.prompt(model, clip, vae, 512, 512, "sdxl512")
        out["sdxl_first_prompt_512_s"] = time.perf_counter() - t0
        out["sdxl_s_per_it_512"] = figures["s_per_it"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
