"""End-to-end generation fixtures (helpers in e2e/helpers.py): a base folder with a small random SD1.5 checkpoint,
and a host over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e.helpers import CHECKPOINT, Host, make_checkpoint

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.executor.caches import make_cache
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.folders import ModelFolders
from host.models.devices import DeviceConfig
from host.models.manager import ModelManager
from host.registry import Registry


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ComfyUI base folder with ``models/checkpoints/small_sd15.safetensors`` (written once a session)."""
    base = tmp_path_factory.mktemp("base")
    make_checkpoint(base / "models" / "checkpoints" / CHECKPOINT)
    (base / "input").mkdir()
    return base


@pytest.fixture
def host(base_dir: Path, tmp_path: Path) -> Host:
    paths = OutputPaths(tmp_path / "output", tmp_path / "temp")
    models = ModelFolders(base_dir / "models")
    folders = NodeFolders(base_dir / "input", paths.output_dir, paths.temp_dir, models)
    registry = Registry()
    load_builtin(registry, paths, folders)
    registry.freeze()
    manager = ModelManager(DeviceConfig(cpu=True), models, preview_method="latent2rgb")
    sink = ListSink()
    return Host(registry, Executor(registry, sink, make_cache(none=True), models=manager), sink, manager, base_dir,
                paths.output_dir)


