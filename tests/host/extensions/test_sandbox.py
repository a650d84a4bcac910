"""Packs under bubblewrap: a hostile pack, in a real sandboxed child, is denied each forbidden thing; with
``network = true`` in its manifest it reaches the test's TCP server. Skipped, with the reason, where bwrap is
missing or cannot create namespaces (CI installs it: .ci/run)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from host.executor.events import ListSink
from host.executor.executor import Executor
from host.extensions.loader import load_extensions
from host.extensions.packs import start_pack
from host.extensions.sandbox import SandboxConfig, SandboxGrantError, SandboxGrants, read_grants
from host.registry import Registry
from isolate.sandbox import SandboxUnavailable, check_available
from isolate.shm import ShmHost
from isolate.venv import VenvBuilder

PACKS = Path(__file__).resolve().parents[2] / "packs"


def _why_no_sandbox() -> str | None:
    try:
        check_available()
    except SandboxUnavailable as exc:
        return str(exc)
    return None


NO_SANDBOX = _why_no_sandbox()
needs_bwrap = pytest.mark.skipif(NO_SANDBOX is not None, reason=f"no sandbox here: {NO_SANDBOX}")
pytestmark = pytest.mark.timeout(120)


class World:
    """The test's fake user: a HOME with a secret, the host's SQLite file, another pack, a secret variable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.secret = self.home / ".wallet"
        self.secret.write_text("seed phrase")
        self.user = root / "user"
        self.user.mkdir()
        self.sqlite = self.user / "nodehost.sqlite3"
        self.sqlite.write_bytes(b"SQLite format 3\0")
        self.ext = root / "extensions"
        shutil.copytree(PACKS / "hostile_pack", self.ext / "hostile_pack")
        shutil.copytree(PACKS / "demo_pack", self.ext / "demo_pack")
        self.folders = {"output": str(root / "output"), "temp": str(root / "temp"), "user": str(self.user),
                        "input": str(root / "input")}
        for key in ("output", "temp", "input"):
            Path(self.folders[key]).mkdir()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NODEHOST_TEST_TOKEN", "host-secret-token")
    return World(tmp_path)


async def hostile(world: World, sandboxed: bool, shm: ShmHost | None = None) -> tuple[Executor, Any]:
    registry = Registry()
    grants = SandboxGrants()
    launcher = None
    if sandboxed:
        config = SandboxConfig(True, world.root / "state", world.folders, shm.directory if shm else None)
        launcher = config.launcher("hostile_pack", world.ext / "hostile_pack", None, grants)
    runner, _ = await start_pack(registry, world.ext / "hostile_pack", python=sys.executable, shm=shm,
                                 folders=world.folders, launcher=launcher)
    return Executor(registry.freeze(), ListSink()), runner


async def attempt(executor: Executor, what: str, target: str = "") -> str:
    prompt = {"1": {"class_type": "HostileTry", "inputs": {"what": what, "target": target}}}
    result = await executor.run(prompt, f"try-{what}")
    assert result.status == "success", result.error
    return result.outputs["1"]["outcome"][0]


async def tcp_server() -> tuple[asyncio.AbstractServer, int]:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the host")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def forbidden(world: World, port: int) -> list[tuple[str, str]]:
    return [("read", str(world.secret)), ("connect", f"127.0.0.1:{port}"), ("read", str(world.sqlite)),
            ("listdir", str(world.ext / "demo_pack")), ("env", "NODEHOST_TEST_TOKEN"),
            ("write", str(world.ext / "hostile_pack" / "dropped.py")), ("write", str(world.home / "dropped"))]


async def test_unsandboxed_the_hostile_pack_gets_everything(world: World) -> None:
    """The control: without a sandbox every attempt below succeeds (so the sandboxed test can fail)."""
    server, port = await tcp_server()
    executor, runner = await hostile(world, sandboxed=False)
    try:
        for what, target in forbidden(world, port):
            assert (await attempt(executor, what, target)).startswith("ok: "), (what, target)
    finally:
        await runner.close()
        server.close()


@needs_bwrap
async def test_sandboxed_the_hostile_pack_is_denied_each_forbidden_thing(world: World) -> None:
    server, port = await tcp_server()
    with ShmHost(private=True) as shm:
        executor, runner = await hostile(world, sandboxed=True, shm=shm)
        try:
            outcomes = {(w, t): await attempt(executor, w, t) for w, t in forbidden(world, port)}
            resolved = await attempt(executor, "resolve", "pypi.org")
            listing = await attempt(executor, "listdir", str(world.ext))
            written = await attempt(executor, "write", str(Path(world.folders["output"]) / "allowed.txt"))
            me = await attempt(executor, "whoami")
            inner = runner.child.inner_pid()  # signals (interrupt) go to the pack's process, not to bwrap
            assert inner is not None and b"isolate.child" in Path(f"/proc/{inner}/cmdline").read_bytes()
        finally:
            await runner.close()
            server.close()
    o = {what + ":" + Path(t).name: v for (what, t), v in outcomes.items()}
    assert o["read:.wallet"].startswith("denied: FileNotFoundError"), o
    assert o[f"connect:127.0.0.1:{port}"].startswith("denied: ConnectionRefusedError"), o
    assert o["read:nodehost.sqlite3"].startswith("denied: FileNotFoundError"), o
    assert o["listdir:demo_pack"].startswith("denied: FileNotFoundError"), o
    assert o["env:NODEHOST_TEST_TOKEN"] == "denied: KeyError: 'NODEHOST_TEST_TOKEN'", o
    assert o["write:dropped.py"].startswith("denied: OSError: [Errno 30] Read-only file system"), o
    assert o["write:dropped"].startswith("denied: FileNotFoundError"), o
    assert resolved.startswith("denied: gaierror"), resolved
    assert listing == "ok: hostile_pack"  # other packs' folders are not there at all
    assert written.startswith("ok: ") and (Path(world.folders["output"]) / "allowed.txt").is_file()
    assert me == f"ok: pid 2 home {world.root / 'state' / 'hostile_pack'}"  # its own PID namespace and HOME
    assert not (world.ext / "hostile_pack" / "dropped.py").exists() and not (world.home / "dropped").exists()


@needs_bwrap
async def test_network_grant_in_the_manifest_reaches_the_tcp_server(world: World, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    shutil.rmtree(world.ext / "demo_pack")
    (world.ext / "hostile_pack.deps.toml").write_text("[sandbox]\nnetwork = true\nread = [\"input\"]\n")
    server, port = await tcp_server()
    registry = Registry()
    config = SandboxConfig(True, tmp_path / "state", world.folders)
    with ShmHost(private=True) as shm:
        config.shm_dir = shm.directory
        runners, statuses = await load_extensions(registry, world.ext, VenvBuilder(tmp_path / "envs"), offline=True,
                                                  shm=shm, folders=world.folders, sandbox=config)
        try:
            assert [s.state for s in statuses] == ["ready"], statuses
            assert statuses[0].sandbox == "sandboxed: network; read input"
            executor = Executor(registry.freeze(), ListSink())
            reached = await attempt(executor, "connect", f"127.0.0.1:{port}")
            secret = await attempt(executor, "read", str(world.secret))
        finally:
            for runner in runners:
                await runner.close()
            server.close()
    assert reached == "ok: hello from the host"
    assert secret.startswith("denied: FileNotFoundError")  # the grant is the network, nothing more


def test_manifest_grants_are_checked() -> None:
    assert read_grants(None) == SandboxGrants()
    assert read_grants({"sandbox": {"network": True, "read": ["models"]}}) == SandboxGrants(None, True, ("models",))
    for bad in ({"network": "yes"}, {"read": "models"}, {"nework": True}):
        with pytest.raises(SandboxGrantError):
            read_grants({"sandbox": bad})
    config = SandboxConfig(True, Path("/state"), {"models_dir": "/m"})
    assert config.resolve("models") == "/m"
    with pytest.raises(SandboxGrantError):
        config.resolve("relative/path")


def test_sandbox_unavailable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        check_available()
    assert os.environ["PATH"] == "/nonexistent"


def cli_flags(world: World, tmp_path: Path) -> list[str]:
    return ["--extensions-dir", str(world.ext), "--envs-dir", str(tmp_path / "envs"), "--offline", "--sandbox"]


@needs_bwrap
def test_ext_list_and_run_with_sandbox(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from host.cli import main

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    (world.ext / "demo_pack.deps.toml").write_text("[sandbox]\nread = [\"/opt\"]\n")
    assert main(["ext", "list", *cli_flags(world, tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "[sandboxed: no network; read /opt]" in listed and "[sandboxed: no network]" in listed, listed
    prompt = tmp_path / "prompt.json"
    prompt.write_text(json.dumps({"1": {"class_type": "HostileTry", "inputs": {"what": "read",
                                                                              "target": str(world.secret)}}}))
    assert main(["run", str(prompt), "--output-directory", world.folders["output"], *cli_flags(world, tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "denied: FileNotFoundError" in out, out


@needs_bwrap
def test_a_relative_extensions_and_envs_dir_work_sandboxed(world: World, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``nodehost run --sandbox --extensions-dir custom_nodes``: the child starts in its state folder, and still
    finds its pack and its python."""
    import json

    from host.cli import main

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.chdir(world.root)
    prompt = tmp_path / "prompt.json"
    prompt.write_text(json.dumps({"1": {"class_type": "DemoAdd", "inputs": {"a": 2, "b": 3}},
                                  "2": {"class_type": "DemoShow", "inputs": {"value": ["1", 0]}}}))
    flags = ["--extensions-dir", "extensions", "--envs-dir", "envs", "--offline", "--sandbox"]
    assert main(["run", str(prompt), "--output-directory", world.folders["output"], *flags]) == 0, \
        capsys.readouterr().err
    assert '2 (DemoShow): {"text": ["5"]' in capsys.readouterr().out


@needs_bwrap
def test_ext_list_resolves_named_grants_like_run(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest granting ``read = ["models"]``: `ext list --sandbox` (no --base-directory) finds the models
    folder where `run` would, under the working directory, instead of failing the pack."""
    from host.cli import main

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.chdir(world.root)
    (world.ext / "demo_pack.deps.toml").write_text("[sandbox]\nread = [\"models\", \"input\"]\n")
    assert main(["ext", "list", *cli_flags(world, tmp_path)]) == 0, capsys.readouterr()
    listed = capsys.readouterr().out
    assert "ready     19 nodes" in listed and "[sandboxed: no network; read models, input]" in listed, listed


def test_sandbox_flag_without_bwrap_stops_with_the_reason(world: World, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from host.cli import main

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["ext", "list", *cli_flags(world, tmp_path)]) == 2
    assert "--sandbox: sandboxing needs bubblewrap" in capsys.readouterr().err


@needs_bwrap
async def test_served_packs_run_sandboxed_with_their_routes(paths, tmp_path: Path) -> None:
    """``nodehost serve --sandbox``: a prompt runs in the demo pack's sandboxed child (PID 2 of its own namespace),
    tensors cross, and the pack's HTTP route is forwarded into the sandbox."""
    from aiohttp.test_utils import TestClient, TestServer

    from builtin_nodes import load_builtin
    from host.server.app import ServerConfig, build_app

    ext = tmp_path / "extensions"
    shutil.copytree(PACKS / "demo_pack", ext / "demo_pack")
    registry = Registry()
    load_builtin(registry, paths)
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, extensions_dir=ext,
                          envs_dir=tmp_path / "envs", offline=True, extra={"sandbox": True})
    async with TestClient(TestServer(build_app(registry, config))) as client:
        resp = await client.post("/prompt", json={"prompt": {
            "i": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "v": {"class_type": "DemoInvert", "inputs": {"image": ["i", 0]}},
            "p": {"class_type": "PreviewImage", "inputs": {"images": ["v", 0]}},
            "a": {"class_type": "DemoAdd", "inputs": {"a": 20, "b": 22}},
            "s": {"class_type": "DemoShow", "inputs": {"value": ["a", 0]}}}, "prompt_id": "boxed"})
        assert resp.status == 200, await resp.text()
        for _ in range(500):
            history = await (await client.get("/history/boxed")).json()
            if history:
                break
            await asyncio.sleep(0.02)
        outputs = history["boxed"]["outputs"]
        assert outputs["s"] == {"text": ["42"], "pid": [2]}, history["boxed"]
        assert len(outputs["p"]["images"]) == 1
        resp = await client.get("/demo_pack/hello/world?q=1")
        assert resp.status == 200 and await resp.json() == {"hello": "world", "q": "1"}


async def test_a_pack_the_user_exempts_runs_plainly_with_the_private_shm(world: World, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        paths) -> None:
    """``enabled = false`` under --sandbox: that pack is not sandboxed, and still finds the tensors the host keeps
    in its private shared-memory folder ($NODEHOST_SHM_DIR)."""
    from builtin_nodes import load_builtin

    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    shutil.rmtree(world.ext / "hostile_pack")
    (world.ext / "demo_pack.deps.toml").write_text("[sandbox]\nenabled = false\n")
    registry = Registry()
    load_builtin(registry, paths)
    with ShmHost(private=True) as shm:
        config = SandboxConfig(True, tmp_path / "state", world.folders, shm.directory)
        runners, statuses = await load_extensions(registry, world.ext, VenvBuilder(tmp_path / "envs"), offline=True,
                                                  shm=shm, folders=world.folders, sandbox=config)
        try:
            assert [(s.state, s.sandbox) for s in statuses] == [("ready", "not sandboxed")], statuses
            prompt = {"i": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                                   "color": 0}},
                      "v": {"class_type": "DemoInvert", "inputs": {"image": ["i", 0]}},
                      "p": {"class_type": "PreviewImage", "inputs": {"images": ["v", 0]}}}
            result = await Executor(registry.freeze(), ListSink()).run(prompt, "exempt")
            assert result.status == "success", result.error
        finally:
            for runner in runners:
                await runner.close()
