"""The demo pack's runner tests (test_remote.py) again, its child under bubblewrap: RPC on stdio, tensors
through the host's private shared-memory folder, progress, interrupt, crash restart, all sandboxed. Tests that
compare PIDs across the sandbox's PID namespace, or start no demo child, are not repeated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from builtin_nodes import load_builtin
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.packs import start_pack
from host.extensions.sandbox import SandboxConfig, SandboxGrants
from host.registry import Registry
from isolate.sandbox import SandboxUnavailable, check_available
from isolate.shm import ShmHost

_spec = importlib.util.spec_from_file_location("test_remote_sandboxed", Path(__file__).with_name("test_remote.py"))
_remote = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_remote)  # type: ignore[union-attr]

NOT_REPEATED = {"test_isolated_chain_runs_in_the_child", "test_pack_that_fails_to_import",
                "test_children_die_with_a_host_killed_by_sigkill",
                "test_for_loop_in_a_pack_carries_a_tensor_through_expansion"}
for _name in dir(_remote):
    if _name.startswith("test_") and _name not in NOT_REPEATED:
        globals()[_name] = getattr(_remote, _name)


def _why_no_sandbox() -> str | None:
    try:
        check_available()
    except SandboxUnavailable as exc:
        return str(exc)
    return None


NO_SANDBOX = _why_no_sandbox()
pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(NO_SANDBOX is not None, reason=f"no sandbox here: {NO_SANDBOX}")]


@pytest.fixture
async def pack(paths, tmp_path: Path):
    registry = Registry()
    load_builtin(registry, paths)
    folders = {"output": str(paths.output_dir), "temp": str(paths.temp_dir)}
    with ShmHost(private=True) as shm:
        config = SandboxConfig(True, tmp_path / "state", folders, shm.directory)
        launcher = config.launcher("demo_pack", _remote.PACKS / "demo_pack", None, SandboxGrants())
        runner, info = await start_pack(registry, _remote.PACKS / "demo_pack", folders=folders, shm=shm,
                                        launcher=launcher)
        registry.freeze()
        sink = ListSink()
        yield Executor(registry, sink), sink, runner, info
        await runner.close()
