"""Pack environments the way ComfyUI packs expect them (issue 20): ComfyUI's base packages importable undeclared
(a pack's own pin wins), torchvision declared but missing reported, prestartup_script.py before __init__,
install.py at build time, pip at import time writing only the pack's venv, swallowed host-module ImportErrors
reported, an unreachable git requirement explained.

The test packs live in tests/packs/env/. All of them are loaded once (one environment each, built offline from
wheels made here) by a module fixture, which also runs one prompt over their nodes; the tests read the outcome."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.loader import PackStatus, load_extensions
from host.registry import Registry
from isolate.venv import VenvBuilder

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "tests" / "packs" / "env"
_spec = importlib.util.spec_from_file_location("wheels", ROOT / "tests" / "isolate" / "wheels.py")
wheels = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(wheels)  # type: ignore[union-attr]

pytestmark = pytest.mark.timeout(300)

NODES = ["BaseVersions", "PinnedEinops", "PlainNode", "PrestartupFolders", "InstalledPrefix", "ImportTool"]


@dataclass
class Loaded:
    ext: Path
    envs: Path
    statuses: dict[str, PackStatus]
    failures: dict[str, str]
    outputs: dict[str, dict]
    error: object


async def _load(tmp: Path) -> Loaded:
    wheelhouse = tmp / "wheels"
    wheels.make_wheel(wheelhouse, "einops", "0.0.1", "__version__ = '0.0.1-pack'\n")
    tool = wheels.make_wheel(tmp / "local-wheels", "importtool", "1.0", "__version__ = '1.0'\n")
    ext = tmp / "extensions"
    for pack in sorted(p for p in PACKS.iterdir() if p.is_dir()):
        shutil.copytree(pack, ext / pack.name)
    (ext / "pip_at_import" / "wheel_path.txt").write_text(str(tool))
    registry = Registry()
    builder = VenvBuilder(tmp / "envs")
    runners, statuses = await load_extensions(registry, ext, builder, find_links=[str(wheelhouse)], offline=True)
    try:
        registry.freeze()
        prompt = {name: {"class_type": name, "inputs": {}} for name in NODES if registry.get(name) is not None}
        result = await Executor(registry, ListSink()).run(prompt, "env")
    finally:
        for runner in runners:
            await runner.close()
    return Loaded(ext, tmp / "envs", {s.name: s for s in statuses}, dict(registry.failures), result.outputs,
                  result.error)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    tmp = tmp_path_factory.mktemp("packenv")
    mp = pytest.MonkeyPatch()
    mp.setenv("UV_CACHE_DIR", str(tmp / "uv-cache"))
    try:
        return asyncio.run(_load(tmp))
    finally:
        mp.undo()


def test_comfyui_base_packages_import_undeclared(loaded: Loaded) -> None:
    assert loaded.statuses["base_imports"].state == "ready", loaded.statuses["base_imports"].reason
    import einops

    assert loaded.outputs["BaseVersions"] == {"einops": [einops.__version__]}


def test_a_pack_pinning_a_base_package_sees_its_own(loaded: Loaded) -> None:
    assert loaded.outputs["PinnedEinops"] == {"einops": ["0.0.1-pack"]}


def test_torchvision_declared_but_missing_is_reported(loaded: Loaded) -> None:
    status = loaded.statuses["wants_torchvision"]
    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("the host has torchvision")
    assert status.state == "ready" and status.nodes == ["PlainNode"]
    notes = " ".join(status.notes)
    assert "requires torchvision, which the host does not have" in notes and "pip install 'torchvision==" in notes
    assert "tried torchvision: the host has no torchvision" in notes


def test_torchvision_declared_with_a_host_torchvision_is_the_hosts(loaded: Loaded) -> None:
    """Where the host has a torchvision (for its torch), the pack imports that one: none in its venv."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("the host has no torchvision (the case above)")
    status = loaded.statuses["wants_torchvision"]
    assert status.state == "ready" and sorted(status.nodes) == ["PlainNode", "VisionNode"], status.notes
    env = loaded.envs / "wants_torchvision"
    assert env.is_dir() and not list(env.rglob("torchvision/__init__.py"))
    assert not [n for n in status.notes if "torchvision" in n], status.notes


def test_prestartup_script_runs_before_init(loaded: Loaded) -> None:
    assert loaded.statuses["with_prestartup"].state == "ready", loaded.statuses["with_prestartup"].reason
    assert loaded.statuses["with_prestartup"].nodes == ["PrestartupFolders"]


def test_install_script_ran_in_the_pack_venv_once(loaded: Loaded) -> None:
    status = loaded.statuses["with_install"]
    assert status.state == "ready", status.reason
    assert loaded.outputs["InstalledPrefix"] == {"prefix": [str(status.env.path)]}  # type: ignore[union-attr]
    assert (status.env.path / "install.log").read_text().startswith("with_install: wrote")  # type: ignore[union-attr]


def test_pip_at_import_installs_into_the_pack_venv_only(loaded: Loaded) -> None:
    status = loaded.statuses["pip_at_import"]
    assert status.state == "ready", status.reason
    where = loaded.outputs["ImportTool"]["where"][0]
    assert where.startswith(str(status.env.path))  # type: ignore[union-attr]
    assert not (Path(sysconfig.get_paths()["purelib"]) / "importtool").exists()


def test_swallowed_host_imports_are_named_in_the_failure(loaded: Loaded) -> None:
    status = loaded.statuses["swallows_imports"]
    assert status.state == "failed" and "NameError" in status.reason
    assert "tried comfy_api_nodes: not provided by nodehost" in status.reason
    assert "tried app: not provided by nodehost" in loaded.failures["swallows_imports:<import>"]


def test_unreachable_git_requirement_names_the_line_and_the_fix(loaded: Loaded) -> None:
    status = loaded.statuses["git_unreachable"]
    assert status.state == "failed"
    assert "requirements.txt:2: gitdep @ git+https://127.0.0.1:9/nobody/gitdep.git@v1" in status.reason
    assert "git_unreachable.deps.toml" in status.reason


def test_doctor_names_what_a_pack_lacks(loaded: Loaded) -> None:
    from host.extensions.doctor import report
    from isolate.pack_requirements import read_pack_requirements

    status = loaded.statuses["swallows_imports"]
    text = "\n".join(report(status, read_pack_requirements(status.path)))
    assert "comfy_api_nodes.apis: module not provided" in text and "app.user_manager: module not provided" in text
    assert "nodes: 0 registered" in text
    pinned = loaded.statuses["base_pinned"]
    text = "\n".join(report(pinned, read_pack_requirements(pinned.path)))
    assert "einops==0.0.1    [requirements.txt:1]" in text and "    einops 0.0.1" in text
    assert "nodes: 1 registered, 1 node classes defined" in text


def test_one_prompt_ran_every_loaded_node(loaded: Loaded) -> None:
    assert loaded.error is None
