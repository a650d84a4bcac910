"""One isolated pack run against a small random SD1.5 checkpoint (tests/host/extensions/test_pack_sdk.py,
test_real_pack_models.py, test_pack_model_patches.py): the checkpoint written by the project tool, the core
nodes, the pack in its own uv venv, one prompt (or several, one after the other: ``run_pack_prompts``) through
the executor with a ModelManager; the pack's status, the result(s) and its folders."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHECKPOINT = "small_sd15.safetensors"


@dataclass
class PackRun:
    status: Any  # host.extensions.loader.PackStatus
    result: Any
    output: Path
    temp: Path
    log: str
    #: every prompt's result, in order (``result`` is the first)
    results: list[Any]
    #: the checkpoint the prompts ran with
    checkpoint: Path
    #: each prompt's wall time, in seconds
    seconds: list[float]


#: (prompt, prompt_id) or (prompt, prompt_id, during): ``during(executor, runners)`` is called just before that
#: prompt runs (to start a thread that interrupts it, say)
Prompts = list[tuple[Any, ...]]


async def _run(tmp: Path, pack: Path, prompts: Prompts, before_load: Any = None) -> PackRun:
    from builtin_nodes import NodeFolders, OutputPaths, load_builtin
    from host.executor.caches import make_cache
    from host.executor.events import ListSink
    from host.executor.executor import Executor
    from host.extensions.loader import load_extensions
    from host.folders import ModelFolders
    from host.models.devices import DeviceConfig
    from host.models.manager import ModelManager
    from host.registry import Registry
    from isolate.venv import VenvBuilder

    base = tmp / "base"
    subprocess.run([sys.executable, "-m", "host.models.testing.make_checkpoint", "--family", "sd15", "--size",
                    "small", "--out", str(base / "models" / "checkpoints" / CHECKPOINT)], check=True, timeout=300)
    if before_load is not None:  # more model files, before the pack's INPUT_TYPES list the folders
        before_load(base / "models")
    paths = OutputPaths(tmp / "output", tmp / "temp")
    models = ModelFolders(base / "models")
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(base / "input", paths.output_dir, paths.temp_dir, models))
    ext = tmp / "extensions"
    shutil.copytree(pack, ext / pack.name)
    folders = {"output": str(paths.output_dir), "temp": str(paths.temp_dir), "input": str(base / "input"),
               "models_dir": str(base / "models")}
    runners, statuses = await load_extensions(registry, ext, VenvBuilder(tmp / "envs"), offline=True,
                                              folders=folders)
    try:
        registry.freeze()
        executor = Executor(registry, ListSink(), make_cache(none=True),
                            models=ModelManager(DeviceConfig(cpu=True), models))
        results, seconds = [], []
        for prompt, prompt_id, *during in prompts:
            for hook in during:
                hook(executor, runners)
            start = time.monotonic()
            results.append(await executor.run(prompt, prompt_id))
            seconds.append(time.monotonic() - start)
        log = "".join(chunk.decode(errors="replace") for r in runners for chunk in r.stderr)
    finally:
        for runner in runners:
            await runner.close()
    return PackRun(statuses[0], results[0], paths.output_dir, paths.temp_dir, log, results,
                   base / "models" / "checkpoints" / CHECKPOINT, seconds)


def run_pack(tmp_path_factory: pytest.TempPathFactory, name: str, pack: Path, prompt: dict[str, Any],
             prompt_id: str) -> PackRun:
    """The run, with uv's cache in the test's folder."""
    return run_pack_prompts(tmp_path_factory, name, pack, [(prompt, prompt_id)])


def run_pack_prompts(tmp_path_factory: pytest.TempPathFactory, name: str, pack: Path, prompts: Prompts,
                     before_load: Any = None) -> PackRun:
    """Several prompts, one after the other, through one executor and the same pack child; ``before_load(models)``
    may write more model files beside the checkpoint first."""
    tmp = tmp_path_factory.mktemp(name)
    mp = pytest.MonkeyPatch()
    mp.setenv("UV_CACHE_DIR", str(tmp / "uv-cache"))
    try:
        return asyncio.run(_run(tmp, pack, prompts, before_load))
    finally:
        mp.undo()
