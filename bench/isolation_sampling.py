"""A MODEL through a pack child, against a random SD1.5 at 128x128 (bench/isolation.py prints these).

``proxy_sample_s_per_it_128``: an isolated node calling ``comfy.sample.sample`` (the host samples for it),
beside ``host_ksampler_s_per_it_128``, the host's KSampler node on the same model in the same run;
``attn_patch_overhead_ms_per_step``: what identity attn1 + attn2 patches of a pack (called back into its child
for every transformer block of every UNet call) add to one KSampler step: the time the host spends in those
calls (round trip, tensors copied into shared memory and back), per step, and ``attn_patch_calls_per_step``
how many there are; ``attn_patch_e2e_ms_per_step`` is the same cost read end to end (the patched KSampler's
s/it minus the plain one's: noisy on a shared CPU, where it is within the UNet's own jitter). Each s/it is read
off the sampler's progress events, as a progress bar shows it: from the first step's event to the last one's, over
the steps between (a prompt's fixed costs, loading, encoding, decoding, crossing into the pack, stay out), median
of the repeats; ``*_e2e_s_per_it_128`` is the older reading, the time difference of the same prompt at two step
counts over the difference in steps, which one-off costs in either prompt (a model moved, memory paged) swing by
more than a step. The checkpoint is a small random one unless ``full_size`` (the real SD1.5 shapes,
bench/sampling.py's cached file: minutes per run on a CPU).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "bench" / "packs" / "patch_bench_pack"
CKPT = "bench_sd15.safetensors"
#: the full-size random SD1.5 bench/sampling.py keeps in its cache (written there once)
FULL_CKPT = "bench_sd15_full.safetensors"


def _prompt(kind: str, steps: int, ckpt: str = CKPT) -> dict[str, Any]:
    model: list[Any] = ["1", 0]
    prompt: dict[str, Any] = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 128, "height": 128, "batch_size": 1}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
    }
    conds = {"positive": ["2", 0], "negative": ["3", 0]}
    if kind == "proxy":
        prompt["5"] = {"class_type": "BenchProxySample", "inputs": {"model": model, **conds, "latent": ["4", 0],
                                                                    "steps": steps}}
        return prompt
    if kind == "attn":
        prompt["8"] = {"class_type": "BenchAttnPatch", "inputs": {"model": model}}
        model = ["8", 0]
    prompt["5"] = {"class_type": "KSampler", "inputs": {"seed": 0, "steps": steps, "cfg": 7.0, "sampler_name": "euler",
                                                        "scheduler": "normal", "denoise": 1.0, "model": model,
                                                        **conds, "latent_image": ["4", 0]}}
    return prompt


class _StepClock:
    """An event sink that notes when each progress event of the sampler node arrived."""

    def __init__(self, node: str = "5") -> None:
        self.node, self.steps = node, []  # (perf_counter, value)

    def emit(self, event: Any) -> None:
        from host.executor.events import Progress

        if isinstance(event, Progress) and event.node == self.node:
            self.steps.append((time.perf_counter(), event.value))

    def s_per_it(self) -> float:
        (t0, v0), (t1, v1) = self.steps[0], self.steps[-1]
        return (t1 - t0) / (v1 - v0)


class _CallbackClock:
    """Time and count the host's calls into a pack's functions (host.extensions.child_calls.call_child, which
    every ChildFunction looks up when it is called) while the ``with`` block runs."""

    def __init__(self) -> None:
        self.seconds, self.calls = 0.0, 0

    def __enter__(self) -> _CallbackClock:
        from host.extensions import child_calls

        self._module, self._original = child_calls, child_calls.call_child

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return self._original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        child_calls.call_child = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self._module.call_child = self._original


async def _figures(tmp: Path, full_size: bool, repeats: int, steps: tuple[int, int]) -> dict[str, float]:
    from builtin_nodes import NodeFolders, OutputPaths, load_builtin
    from host.executor.caches import make_cache
    from host.executor.executor import Executor
    from host.extensions.loader import load_extensions
    from host.folders import ModelFolders
    from host.models.devices import DeviceConfig
    from host.models.manager import ModelManager
    from host.registry import Registry
    from isolate.venv import VenvBuilder

    base = tmp / "base"
    ckpt = FULL_CKPT if full_size else CKPT
    if full_size:
        from bench.sampling import ensure_checkpoint

        ensure_checkpoint(base / "models", FULL_CKPT)
    else:
        subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", "sd15", "--size",
                        "small", "--out", str(base / "models" / "checkpoints" / CKPT)], check=True, cwd=ROOT)
    paths = OutputPaths(tmp / "output", tmp / "temp")
    models = ModelFolders(base / "models")
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(base / "input", paths.output_dir, paths.temp_dir, models))
    ext = tmp / "extensions"
    shutil.copytree(PACK, ext / PACK.name)
    runners, _ = await load_extensions(registry, ext, VenvBuilder(tmp / "envs"), offline=True, folders={
        "output": str(paths.output_dir), "temp": str(paths.temp_dir), "input": str(base / "input"),
        "models_dir": str(base / "models")})
    try:
        registry.freeze()
        in_calls: list[tuple[float, int]] = []  # (seconds, calls) per step of each attn-patched run

        async def timed(kind: str, n: int) -> tuple[float, float]:
            """(the prompt's seconds, its sampler's s/it from the progress events)"""
            sink = _StepClock()
            executor = Executor(registry, sink, make_cache(none=True), models=manager)
            t0 = time.perf_counter()
            with _CallbackClock() as clock:
                result = await executor.run(_prompt(kind, n, ckpt), f"{kind}-{n}")
            assert result.status == "success", result.error
            if kind == "attn":
                in_calls.append((clock.seconds / n, clock.calls // n))
            return time.perf_counter() - t0, sink.s_per_it()

        manager = ModelManager(DeviceConfig(), models)
        for kind in ("host", "proxy", "attn"):  # warm-up: imports, the child, the model on its device
            await timed(kind, steps[0])
        per_it: dict[str, list[float]] = {"host": [], "proxy": [], "attn": []}
        e2e: dict[str, list[float]] = {"host": [], "proxy": [], "attn": []}
        for _ in range(repeats):
            for kind in per_it:  # interleaved
                (short, _), (long, step) = await timed(kind, steps[0]), await timed(kind, steps[1])
                e2e[kind].append((long - short) / (steps[1] - steps[0]))
                per_it[kind].append(step)
    finally:
        for runner in runners:
            await runner.close()
    host, proxy, attn = (statistics.median(per_it[k]) for k in ("host", "proxy", "attn"))
    measured = in_calls[1:]  # not the warm-up run
    return {"host_ksampler_s_per_it_128": host, "proxy_sample_s_per_it_128": proxy,
            "proxy_over_host": proxy / host,
            "host_ksampler_e2e_s_per_it_128": statistics.median(e2e["host"]),
            "proxy_sample_e2e_s_per_it_128": statistics.median(e2e["proxy"]),
            "attn_patch_overhead_ms_per_step": statistics.median(s for s, _ in measured) * 1000.0,
            "attn_patch_calls_per_step": max(c for _, c in measured),
            "attn_patch_e2e_ms_per_step": (attn - host) * 1000.0, "sampling_checkpoint_full_size": full_size}


def sampling_figures(full_size: bool = False, repeats: int = 3, steps: tuple[int, int] = (2, 6)) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
        try:
            return asyncio.run(_figures(Path(tmp), full_size, repeats, steps))
        finally:
            if env is None:
                os.environ.pop("UV_CACHE_DIR", None)
            else:
                os.environ["UV_CACHE_DIR"] = env


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(sampling_figures(full_size="--full-size-sd15" in sys.argv))
