"""One local Ray cluster per test module (``ray.init(num_cpus=2)``: Ray's start-up is slow on two cores), and
the server over it: two CPU workers that do not share the server's folders (files cross the object store)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

TESTS = Path(__file__).resolve().parents[2]
CHECKPOINT = "small_sd15.safetensors"


@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'): scale-out tests skip")
    # the workers import nodehost from the tree and the test nodes from tests/ (tree first: tests/host would
    # otherwise shadow the host package)
    path = os.pathsep.join([str(TESTS.parent), str(TESTS)])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}})
    yield ray
    ray.shutdown()


@dataclass
class Served:
    client: TestClient
    app: Any
    base: Path

    @property
    def state(self) -> Any:
        from host.server.state import STATE

        return self.app[STATE]


def server_config(base: Path, **extra: Any) -> Any:
    from host.server.state import ServerConfig

    return ServerConfig(output_dir=base / "output", temp_dir=base / "temp", input_dir=base / "input",
                        models_dir=base / "models", **extra)


def registry_for(config: Any) -> Any:
    import scaleout_nodes

    from builtin_nodes import NodeFolders, OutputPaths
    from host.folders import ModelFolders

    folders = NodeFolders(config.input_dir, config.output_dir, config.temp_dir, ModelFolders(config.models_dir))
    return scaleout_nodes.registry(OutputPaths(config.output_dir, config.temp_dir), folders).freeze()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import scaleout_nodes

    from host.scaleout.pool import RayWorkers
    from host.scaleout.spec import RaySettings
    from host.server.app import build_app
    from host.server.state import STATE

    base = tmp_path_factory.mktemp("scaleout")
    (base / "input").mkdir()
    config = server_config(base)
    pool = RayWorkers(RaySettings(cpu_workers=2, shared=False, registry_factory=scaleout_nodes.registry))
    app = build_app(registry_for(config), config, workers=pool)
    async with TestClient(TestServer(app)) as client:
        await app[STATE].ready.wait()
        yield Served(client, app, base)


@pytest.fixture(scope="module")
def checkpoint(served: Served) -> str:
    """A small random SD1.5 checkpoint in the server's models/checkpoints (the workers read the same folder)."""
    from host.models.testing.make_checkpoint import make_checkpoint

    make_checkpoint("sd15", "small", served.base / "models" / "checkpoints" / CHECKPOINT)
    return CHECKPOINT


@pytest_asyncio.fixture(loop_scope="module")
async def registry_in_process(tmp_path: Path) -> Any:
    """A client of an in-process server (the default workers) over the same nodes, to compare against."""
    from host.server.app import build_app

    config = server_config(tmp_path)
    async with TestClient(TestServer(build_app(registry_for(config), config))) as client:
        yield client
