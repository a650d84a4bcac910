"""The model manager: file cache keyed by path and mtime, LRU past the RAM budget, /free, stats, placement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from host.folders import ModelFolders
from host.models.devices import DeviceConfig
from host.models.manager import ModelFileMissing, ModelManager
from host.models.manager_memory import model_bytes, move_model


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


def test_cached_value_is_reused_until_the_file_changes(tmp_path: Path) -> None:
    manager = ModelManager(DeviceConfig(cpu=True))
    path = write(tmp_path / "a.safetensors", 10)
    builds: list[int] = []
    load = lambda: builds.append(1) or object()  # noqa: E731
    first = manager.cached(("ckpt",), path, load)
    assert manager.cached(("ckpt",), path, load) is first and len(builds) == 1
    assert manager.cached(("vae",), path, load) is not first  # another kind of load of the same file
    write(path, 11)
    os.utime(path, ns=(1, 1))
    assert manager.cached(("ckpt",), path, load) is not first and len(builds) == 3


def test_least_recently_used_dropped_past_the_ram_budget(tmp_path: Path) -> None:
    manager = ModelManager(DeviceConfig(cpu=True, ram_budget_gb=2500 / 1024 ** 3))
    a, b, c = (write(tmp_path / f"{n}.ckpt", 1000) for n in "abc")
    manager.cached(("x",), a, object)
    manager.cached(("x",), b, object)
    manager.cached(("x",), a, object)  # a used again: b is now the least recently used
    manager.cached(("x",), c, object)
    assert [Path(p).name for p in manager.cached_files()] == ["a.ckpt", "c.ckpt"]


def test_unload_all_empties_the_cache(tmp_path: Path) -> None:
    manager = ModelManager(DeviceConfig(cpu=True))
    manager.cached(("x",), write(tmp_path / "a.pt", 4), object)
    manager.unload_all()
    assert manager.cached_files() == []


def test_find_names_the_folder_and_its_directories(tmp_path: Path) -> None:
    manager = ModelManager(DeviceConfig(cpu=True), ModelFolders(tmp_path / "models"))
    write(tmp_path / "models" / "checkpoints" / "sub" / "m.safetensors", 4)
    assert manager.find("checkpoints", "sub/m.safetensors").name == "m.safetensors"
    with pytest.raises(ModelFileMissing, match=r"nope.safetensors: not found in checkpoints .*checkpoints"):
        manager.find("checkpoints", "nope.safetensors")


def test_cpu_stats_are_real_figures() -> None:
    manager = ModelManager(DeviceConfig(cpu=True))
    [cpu] = manager.stats()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total, free = (int(line.split()[1]) * 1024 for line in meminfo if line.split()[0] in
                   ("MemTotal:", "MemAvailable:"))
    assert cpu["type"] == "cpu" and cpu["vram_total"] == total
    assert abs(cpu["vram_free"] - free) < 512 * 1024 ** 2
    assert manager.plan.compute == "cpu" and str(manager.device) == "cpu"


def test_use_on_the_cpu_keeps_the_model_where_it_is() -> None:
    manager = ModelManager(DeviceConfig(cpu=True))
    module = torch.nn.Linear(4, 4)
    assert manager.use(module) is module and manager.placed() == []
    manager.done(module)
    assert module.weight.device.type == "cpu"


def test_model_bytes_and_move_for_modules_and_holders() -> None:
    module = torch.nn.Linear(4, 4)  # 16 + 4 fp32 values

    class Holder:
        def __init__(self) -> None:
            self.unet = module

    assert model_bytes(module) == 80 and model_bytes(Holder()) == 80
    move_model(Holder(), "meta")
    assert module.weight.device.type == "meta"


def test_no_torch_probe_until_asked() -> None:
    manager = ModelManager(DeviceConfig(cpu=True))
    assert manager._plan is None
    assert manager.dtype_policy.unet == "float32" and manager._plan is not None


async def test_the_executor_hands_its_manager_to_nodes(make_registry) -> None:
    from builtin_nodes.node_env import NoModelManager, manager
    from host.executor.events import ListSink
    from host.executor.executor import Executor
    from isolate.context import interrupt_requested

    seen: list[object] = []

    class UsesModels:
        @classmethod
        def INPUT_TYPES(cls):  # noqa: N802
            return {"required": {}}

        RETURN_TYPES = ()
        OUTPUT_NODE = True
        FUNCTION = "go"

        def go(self):
            seen.append(manager())
            seen.append(interrupt_requested())
            return {}

    registry = make_registry({"UsesModels": UsesModels})
    models = ModelManager(DeviceConfig(cpu=True))
    result = await Executor(registry, ListSink(), models=models).run({"1": {"class_type": "UsesModels",
                                                                             "inputs": {}}}, "p")
    assert result.status == "success" and seen == [models, False]
    failed = await Executor(registry, ListSink()).run({"1": {"class_type": "UsesModels", "inputs": {}}}, "q")
    assert failed.status == "error" and failed.error["exception_type"].endswith(NoModelManager.__name__)


def test_the_ram_budget_counts_what_a_checkpoint_takes_loaded_not_its_file(tmp_path: Path, sd15_small: Path) -> None:
    """An fp16 file computed in fp32 takes twice its size, and packed convolutions more: a budget that two
    files fit but two loaded checkpoints do not keeps one (counting file sizes, an OOM kill ended a run)."""
    import shutil

    from host.models.manager import resident_bytes

    probe = ModelManager(DeviceConfig(cpu=True))
    ck = probe.load_checkpoint(sd15_small)
    loaded = resident_bytes(ck, 0)
    assert loaded == sum(p.nbytes() for p in (ck.model, ck.clip, ck.vae)) and loaded > 0
    unet = ck.model.unet
    cfg = unet.config
    with torch.no_grad():
        unet(torch.randn(2, cfg.in_channels, 8, 8), torch.tensor([10.0, 10.0]), torch.randn(2, 77, cfg.context_dim))
    assert resident_bytes(ck, 0) > loaded  # the convolutions' packed copies count too

    second = tmp_path / "b.safetensors"
    shutil.copy(sd15_small, second)
    budget = int(1.5 * loaded)
    assert 2 * sd15_small.stat().st_size <= budget < 2 * loaded  # both files fit, both loaded do not
    manager = ModelManager(DeviceConfig(cpu=True, ram_budget_gb=budget / 1024 ** 3))
    manager.load_checkpoint(sd15_small)
    manager.load_checkpoint(second)
    assert [Path(p).name for p in manager.cached_files()] == ["b.safetensors"]
