"""SD1.5 generation speed: a full-size random-weight SD1.5 checkpoint (written once, cached under the user's cache
folder by ``host.models.testing.make_checkpoint``), the default workflow at 128x128 and 512x512 (4 steps, euler,
normal, cfg 7, batch 1) through the executor and the model manager.

Prints the checkpoint load time (the loader node: the header read and checked, the weights left in the file),
the time the first prompt spent reading the weights on first use (``weights_read_s``), the first prompt's time
at 128x128 including the load, the per-step time at each size (median of the steps after the first),
VAEDecode's time, the UNet's FLOPs per step (cond + uncond, counted with torch's FlopCounterMode) and the
fraction of ``--peak-gflops`` reached, peak RSS and the load average.
With ``--json`` the last line is one JSON object: ``s_per_it_128``, ``s_per_it_512``, ``load_s``,
``first_prompt_128_s``, ``peak_rss_gb`` (and the rest), and ``lora_apply_s`` (unless ``--skip-lora``): a rank-32
kohya LoRA (UNet attention/FF/proj and CLIP layers, written once to the cache by host.models.testing.make_lora) on
the loaded checkpoint, the LoraLoader node's time (reading the file) plus the time the model manager spends
readying the patched UNet and CLIP (writing the patches into the weights); ``lora_undo_s`` is the time putting the
originals back for the next prompt without the LoRA. Stock ComfyUI on the 2-core CPU box: 1.28 s/it at 128,
11.8 s/it at 512, load 4.0 s, first prompt 17.9 s; the goal is at most 0.6x each.

``--sdxl`` also runs a full-size random SDXL base checkpoint (written once and cached the same way) through the
same workflow at 512x512 (4 steps; plain CLIPTextEncode, so the size conditioning is the image's own) and
reports ``sdxl_s_per_it_512`` (median per-step time), ``sdxl_load_s`` and ``sdxl_first_prompt_512_s``.

``--comfyui DIR`` runs the same workflows in stock ComfyUI first (bench/comfyui_anchor.py, with
``--comfyui-python``, an environment holding ComfyUI's requirements), on the same checkpoints and seeds, and adds
each of its figures as ``comfyui_<key>``, the ratio ``<key>_vs_comfyui`` (nodehost / ComfyUI: the goal is at most
0.6) and ``pixel_diff_<image>`` (the largest difference of a channel between the two decoded images, in 1/255).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builtin_nodes import NodeFolders, OutputPaths, load_builtin  # noqa: E402
from host.executor.caches import make_cache  # noqa: E402
from host.executor.events import Executed, Executing, ListSink, Progress  # noqa: E402
from host.executor.executor import Executor  # noqa: E402
from host.folders import ModelFolders  # noqa: E402
from host.models.devices import DeviceConfig  # noqa: E402
from host.models.manager import ModelManager, import_model_code  # noqa: E402
from host.registry import Registry  # noqa: E402

CHECKPOINT = "bench_sd15_full.safetensors"
SDXL_CHECKPOINT = "bench_sdxl_full.safetensors"
LORA = "bench_sd15_rank32.safetensors"


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "nodehost" / "bench"


def ensure_checkpoint(models: Path, name: str = CHECKPOINT, family: str = "sd15") -> None:
    """The full-size checkpoint in the cache (written once), linked into ``models/checkpoints``."""
    cached = cache_dir() / name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", family, "--size",
                        "full", "--out", str(partial)], check=True, cwd=ROOT)
        partial.rename(cached)
    target = models / "checkpoints" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(cached)


def ensure_lora(models: Path) -> None:
    """The rank-32 SD1.5 LoRA in the cache (written once), linked into ``models/loras``."""
    cached = cache_dir() / LORA
    if not cached.is_file():
        from host.models.testing.make_lora import make_lora

        partial = make_lora(cached.with_suffix(".partial"), size="full", rank=32, alpha=16.0)
        partial.rename(cached)
    target = models / "loras" / LORA
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(cached)


def with_lora(prompt: dict[str, Any]) -> dict[str, Any]:
    prompt = json.loads(json.dumps(prompt))
    prompt["10"] = {"class_type": "LoraLoader", "inputs": {"model": ["1", 0], "clip": ["1", 1], "lora_name": LORA,
                                                           "strength_model": 1.0, "strength_clip": 1.0}}
    prompt["2"]["inputs"]["clip"] = prompt["3"]["inputs"]["clip"] = ["10", 1]
    prompt["5"]["inputs"]["model"] = ["10", 0]
    return prompt


def lora_times(executor: Executor, manager: ModelManager, sink: TimedSink, models: Path,
               images: dict[str, Path], temp: Path) -> dict[str, float]:
    """``lora_apply_s`` and ``lora_undo_s`` (the checkpoint already loaded; see the module docstring)."""
    ensure_lora(models)
    spent: list[float] = []
    use = manager.use

    def timed_use(model: Any, device: Any = None) -> Any:
        import torch

        t = time.perf_counter()
        try:
            return use(model, device)
        finally:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            spent.append(time.perf_counter() - t)

    manager.use = timed_use  # type: ignore[method-assign]
    try:
        sink.events.clear()
        sink.times.clear()
        result = asyncio.run(executor.run(with_lora(workflow(128, seed=7)), "lora"))
        assert result.status == "success", result.error
        apply_s = sink.node_time("10") + sum(spent)
        images["lora"] = temp / sink.image()
        spent.clear()
        assert asyncio.run(executor.run(workflow(128, seed=7), "after-lora")).status == "success"
        images["after-lora"] = temp / sink.image()
        return {"lora_apply_s": apply_s, "lora_undo_s": sum(spent)}
    finally:
        manager.use = use  # type: ignore[method-assign]


def workflow(size: int, seed: int = 42, ckpt: str = CHECKPOINT) -> dict[str, Any]:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photograph of an astronaut riding a horse",
                                                         "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry, low quality", "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": 4, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0]}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
    }


class TimedSink(ListSink):
    """Every event with the time it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def emit(self, event: Any) -> None:
        self.times.append(time.perf_counter())
        super().emit(event)

    def step_times(self) -> list[float]:
        stamps = [t for e, t in zip(self.events, self.times, strict=True) if isinstance(e, Progress) and e.node == "5"]
        return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]

    def image(self, node: str = "7") -> str:
        """The file name of the image the preview node wrote in the last prompt."""
        done = [e for e in self.events if isinstance(e, Executed) and e.node == node]
        return done[-1].output["images"][0]["filename"]

    def node_time(self, node: str) -> float:
        start = next(t for e, t in zip(self.events, self.times, strict=True)
                     if isinstance(e, Executing) and e.node == node)
        after = [t for e, t in zip(self.events, self.times, strict=True)
                 if isinstance(e, Executing | Executed) and t > start and getattr(e, "node", None) != node]
        return (after[0] if after else self.times[-1]) - start


def unet_flops(manager: ModelManager, models: Path, size: int) -> float:
    """FLOPs of one UNet call on the cond+uncond batch at ``size`` pixels."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = manager.load_checkpoint(models / "checkpoints" / CHECKPOINT).model
    x = torch.zeros(2, 4, size // 8, size // 8, dtype=getattr(torch, manager.dtype_policy.unet))
    ctx = torch.zeros(2, 77, 768, dtype=x.dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.unet(x, torch.tensor([999.0, 999.0]), context=ctx)
    return float(counter.get_total_flops())


def sdxl_timings(executor: Executor, manager: ModelManager, sink: TimedSink, models: Path) -> dict[str, float]:
    """The full-size SDXL base at 512x512, 4 steps: the first prompt (load included) and the per-step time.
    SD1.5 is unloaded first: both in fp32 with their packed convolutions outgrow 24 GB (the OOM killer ended
    a run that kept it)."""
    manager.unload_all()
    gc.collect()
    ensure_checkpoint(models, SDXL_CHECKPOINT, "sdxl")
    sink.events.clear()
    sink.times.clear()
    t0 = time.perf_counter()
    result = asyncio.run(executor.run(workflow(512, seed=512, ckpt=SDXL_CHECKPOINT), "sdxl512"))
    first = time.perf_counter() - t0
    assert result.status == "success", result.error
    steps = sink.step_times()
    return {"sdxl_s_per_it_512": statistics.median(steps) if steps else float("nan"),
            "sdxl_load_s": sink.node_time("1"), "sdxl_first_prompt_512_s": first}


def run_anchor(args: argparse.Namespace, models: Path, images: Path) -> dict[str, Any]:
    """bench/comfyui_anchor.py in ComfyUI's environment, on the same checkpoints: its figures."""
    cmd = [args.comfyui_python, str(ROOT / "bench" / "comfyui_anchor.py"), "--comfyui", str(args.comfyui),
           "--models", str(models), "--images", str(images), "--checkpoint", CHECKPOINT, "--sizes", args.sizes]
    if not args.skip_lora:
        cmd += ["--lora", LORA]
    if args.sdxl:
        cmd += ["--sdxl", SDXL_CHECKPOINT]
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def pixel_diff(ours: Path, theirs: Path) -> float:
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(ours).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(theirs).convert("RGB"), dtype=np.int16)
    return float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")


def compare(out: dict[str, Any], anchor: dict[str, Any], ours: dict[str, Path], theirs: Path) -> None:
    for key, value in anchor.items():
        out[f"comfyui_{key}"] = value
        if key in out and key != "load_avg_1m" and value:
            out[f"{key}_vs_comfyui"] = out[key] / value
    for name, path in ours.items():
        if (theirs / f"{name}.png").is_file():
            out[f"pixel_diff_{name}"] = pixel_diff(path, theirs / f"{name}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="the CPU even when a GPU is present")
    parser.add_argument("--peak-gflops", type=float, default=390.0, help="the box's fp32 convolution rate")
    parser.add_argument("--sizes", default="128,512")
    parser.add_argument("--sdxl", action="store_true", help="also time a full-size SDXL base at 512x512")
    parser.add_argument("--skip-lora", action="store_true", help="leave out lora_apply_s")
    parser.add_argument("--comfyui", type=Path, help="a ComfyUI checkout: time the same workflows there first")
    parser.add_argument("--comfyui-python", default=sys.executable, help="the Python of ComfyUI's environment")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nodehost-bench-"))
    models = work / "models"
    ensure_checkpoint(models)
    if not args.skip_lora:
        ensure_lora(models)
    if args.sdxl:
        ensure_checkpoint(models, SDXL_CHECKPOINT, "sdxl")
    # ComfyUI first, before this process holds any weights: both in 24 GB at once do not fit with SDXL
    anchor = run_anchor(args, models, work / "comfyui") if args.comfyui else {}
    images: dict[str, Path] = {}
    folders = ModelFolders(models)
    paths = OutputPaths(work / "output", work / "temp")
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(work / "input", paths.output_dir, paths.temp_dir, folders))
    registry.freeze()
    manager = ModelManager(DeviceConfig(cpu=args.cpu), folders)
    sink = TimedSink()
    executor = Executor(registry, sink, make_cache(none=True), models=manager)
    out: dict[str, Any] = {"device": manager.plan.compute, "load_avg_1m": os.getloadavg()[0]}

    import_model_code()  # as the server's start-up warm-up does before a prompt can arrive
    t0 = time.perf_counter()
    asyncio.run(executor.run(workflow(128), "first"))
    out["first_prompt_128_s"] = time.perf_counter() - t0
    images["first"] = paths.temp_dir / sink.image()
    out["load_s"] = sink.node_time("1")
    for node, name in (("2", "encode"), ("5", "ksampler"), ("6", "vae_decode")):  # where the first prompt's time went
        out[f"first_prompt_{name}_s"] = sink.node_time(node)
    first_steps = sink.step_times()
    out["first_prompt_step_s"] = max(first_steps) if first_steps else float("nan")
    ck = manager.load_checkpoint(models / "checkpoints" / CHECKPOINT)
    out["weights_read_s"] = sum(p.weights.read_s for p in (ck.model, ck.clip, ck.vae) if p.weights is not None)
    del ck
    for size in (int(s) for s in args.sizes.split(",")):
        sink.events.clear()
        sink.times.clear()
        result = asyncio.run(executor.run(workflow(size, seed=size), f"p{size}"))
        assert result.status == "success", result.error
        steps = sink.step_times()
        out[f"s_per_it_{size}"] = statistics.median(steps) if steps else float("nan")
        out[f"vae_decode_{size}_s"] = sink.node_time("6")
        images[f"p{size}"] = paths.temp_dir / sink.image()
        flops = unet_flops(manager, models, size) if manager.plan.compute == "cpu" else float("nan")
        out[f"unet_gflops_per_step_{size}"] = flops / 1e9
        out[f"peak_fraction_{size}"] = flops / 1e9 / out[f"s_per_it_{size}"] / args.peak_gflops
    if not args.skip_lora:
        out |= lora_times(executor, manager, sink, models, images, paths.temp_dir)
    if args.sdxl:
        out |= sdxl_timings(executor, manager, sink, models)
        images["sdxl512"] = paths.temp_dir / sink.image()
    compare(out, anchor, images, work / "comfyui")
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    for key, value in out.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
