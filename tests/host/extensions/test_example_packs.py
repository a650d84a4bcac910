"""The two example packs that really conflict on PyPI (numpy<2 and numpy>=2) in one workflow. Needs the package
registry: skipped when PyPI cannot be reached."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from sandboxing import sandbox_setup

from builtin_nodes import load_builtin
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.loader import load_extensions
from host.registry import Registry
from isolate.venv import VenvBuilder

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "extensions"


def registry_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


pytestmark = [pytest.mark.registry, pytest.mark.timeout(600),
              pytest.mark.skipif(not registry_reachable(), reason="the package registry is not reachable")]


@pytest.mark.parametrize("sandboxed", [False, True], ids=["plain", "sandboxed"])
async def test_numpy1_and_numpy2_packs_in_one_workflow(tmp_path: Path, paths, sandboxed: bool) -> None:
    sandbox, shm = sandbox_setup(sandboxed, tmp_path)
    ext = tmp_path / "extensions"
    for pack in ("numpy1_pack", "numpy2_pack"):
        shutil.copytree(EXAMPLES / pack, ext / pack)
    registry = Registry()
    load_builtin(registry, paths)
    runners, statuses = await load_extensions(registry, ext, VenvBuilder(tmp_path / "envs"), sandbox=sandbox,
                                              shm=shm)
    try:
        assert {s.name: s.state for s in statuses} == {"numpy1_pack": "ready", "numpy2_pack": "ready"}, statuses
        registry.freeze()
        prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                               "color": 0xFFFFFF}},
                  "2": {"class_type": "Numpy1Info", "inputs": {"image": ["1", 0]}},
                  "3": {"class_type": "Numpy2Info", "inputs": {"image": ["2", 0]}}}
        result = await Executor(registry, ListSink()).run(prompt, "p")
        assert result.status == "success", result.error
        assert result.outputs["2"]["text"][0].startswith("1.")
        assert result.outputs["3"]["text"][0].startswith("2.")
    finally:
        for runner in runners:
            await runner.close()
        if shm is not None:
            shm.close()
