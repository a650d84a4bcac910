"""Packs with conflicting dependencies run side by side in one workflow, each in its own uv environment
(built offline from wheels made in the test)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sandboxing import sandbox_setup

from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.loader import load_extensions
from host.registry import Registry
from isolate.venv import VenvBuilder

_spec = importlib.util.spec_from_file_location("wheels", Path(__file__).resolve().parents[2] / "isolate" / "wheels.py")
wheels = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(wheels)  # type: ignore[union-attr]

pytestmark = pytest.mark.timeout(240)

PACK_SOURCE = '''
import {module}


class {node}:
    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{}}}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        return {{"ui": {{"version": [{module}.__version__]}}, "result": ({module}.__version__,)}}


NODE_CLASS_MAPPINGS = {{"{node}": {node}}}
'''


def make_pack(ext_dir: Path, name: str, node: str, module: str, requirement: str) -> None:
    pack = ext_dir / name
    pack.mkdir(parents=True)
    (pack / "__init__.py").write_text(PACK_SOURCE.format(module=module, node=node))
    (pack / "requirements.txt").write_text(requirement + "\n")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    wheelhouse = tmp_path / "wheels"
    wheels.make_wheel(wheelhouse, "tinydep", "1.0.0", "__version__ = '1.0.0'\n")
    wheels.make_wheel(wheelhouse, "tinydep", "2.0.0", "__version__ = '2.0.0'\n")
    wheels.make_wheel(wheelhouse, "numpy", "0.0.1", "__version__ = '0.0.1-pack'\n")
    ext = tmp_path / "extensions"
    return ext, wheelhouse, VenvBuilder(tmp_path / "envs")


@pytest.mark.parametrize("sandboxed", [False, True], ids=["plain", "sandboxed"])
async def test_conflicting_packs_in_one_workflow(setup, sandboxed: bool, tmp_path: Path) -> None:
    ext, wheelhouse, builder = setup
    sandbox, shm = sandbox_setup(sandboxed, tmp_path)
    make_pack(ext, "pack_a", "ReadA", "tinydep", "tinydep==1.0.0")
    make_pack(ext, "pack_b", "ReadB", "tinydep", "tinydep>=2")
    make_pack(ext, "pack_np", "ReadNumpy", "numpy", "numpy==0.0.1")
    make_pack(ext, "pack_bad", "ReadBad", "tinydep", "tinydep==9.9")
    (ext / "off.disabled").mkdir()
    registry = Registry()
    runners, statuses = await load_extensions(registry, ext, builder, find_links=[str(wheelhouse)], offline=True,
                                              sandbox=sandbox, shm=shm)
    try:
        state = {s.name: s.state for s in statuses}
        assert state == {"off.disabled": "disabled", "pack_a": "ready", "pack_b": "ready", "pack_bad": "failed",
                         "pack_np": "ready"}
        bad = next(s for s in statuses if s.name == "pack_bad")
        assert "tinydep" in bad.reason and "pack_bad:<environment>" in registry.failures
        registry.freeze()
        prompt = {"a": {"class_type": "ReadA", "inputs": {}}, "b": {"class_type": "ReadB", "inputs": {}},
                  "n": {"class_type": "ReadNumpy", "inputs": {}}}
        result = await Executor(registry, ListSink()).run(prompt, "p")
        assert result.status == "success", result.error
        assert result.outputs == {"a": {"version": ["1.0.0"]}, "b": {"version": ["2.0.0"]},
                                  "n": {"version": ["0.0.1-pack"]}}
        import numpy

        assert numpy.__version__ != "0.0.1-pack"
    finally:
        for runner in runners:
            await runner.close()
        if shm is not None:
            shm.close()


async def test_environments_are_reused_on_the_next_start(setup) -> None:
    ext, wheelhouse, builder = setup
    make_pack(ext, "pack_a", "ReadA", "tinydep", "tinydep==1.0.0")
    for expect_built in (True, False):
        runners, statuses = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True)
        assert statuses[0].env is not None and statuses[0].env.built is expect_built
        for runner in runners:
            await runner.close()


async def test_cached_node_definitions_register_without_starting_the_child(setup, tmp_path: Path) -> None:
    from host.extensions.packs import NodeDefCache

    ext, wheelhouse, builder = setup
    make_pack(ext, "pack_a", "ReadA", "tinydep", "tinydep==1.0.0")
    cache = NodeDefCache(tmp_path / "nodedefs")
    runners, _ = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True,
                                       cache=cache)
    assert runners[0].child is not None  # first start: the child read the definitions
    for runner in runners:
        await runner.close()
    registry = Registry()
    runners, statuses = await load_extensions(registry, ext, builder, find_links=[str(wheelhouse)], offline=True,
                                              cache=cache)
    try:
        assert statuses[0].nodes == ["ReadA"] and runners[0].child is None  # from the cache: no child yet
        registry.freeze()
        result = await Executor(registry, ListSink()).run({"a": {"class_type": "ReadA", "inputs": {}}}, "p")
        assert result.outputs == {"a": {"version": ["1.0.0"]}} and runners[0].child is not None  # started lazily
    finally:
        for runner in runners:
            await runner.close()
    (ext / "pack_a" / "__init__.py").write_text(PACK_SOURCE.format(module="tinydep", node="ReadA2"))
    runners, statuses = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True,
                                              cache=cache)
    try:
        assert statuses[0].nodes == ["ReadA2"]  # an edited pack is read again
    finally:
        for runner in runners:
            await runner.close()


async def test_prewarm_starts_cached_packs_in_the_background(setup, tmp_path: Path) -> None:
    import asyncio

    from host.extensions.packs import NodeDefCache

    ext, wheelhouse, builder = setup
    make_pack(ext, "pack_a", "ReadA", "tinydep", "tinydep==1.0.0")
    cache = NodeDefCache(tmp_path / "nodedefs")
    runners, _ = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True,
                                       cache=cache)
    for runner in runners:
        await runner.close()
    runners, _ = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True,
                                       cache=cache, prewarm=True)
    try:
        for _ in range(200):
            if runners[0].child is not None:
                break
            await asyncio.sleep(0.02)
        assert runners[0].child is not None and runners[0].child.returncode is None
        await asyncio.gather(runners[0].ensure_started(), runners[0].ensure_started())  # one child, not two
        assert runners[0].child.returncode is None
    finally:
        for runner in runners:
            await runner.close()
