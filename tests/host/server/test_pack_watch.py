"""``--watch-packs``: a pack edited under a running server (a real aiohttp server, the pack in its own child) is
reloaded: its new nodes are in /object_info and run, a broken edit keeps the old nodes marked failed, and an edit
made while a prompt runs waits for that prompt."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from builtin_nodes import load_builtin
from host.registry import Registry
from host.server.app import ServerConfig, build_app
from host.server.pack_watch import EVENT, install

pytestmark = pytest.mark.timeout(120)

NODE = '''
class {cls}:
    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"seconds": ("FLOAT", {{"default": 0.0, "min": 0.0, "max": 30.0}})}},
                "optional": {{"after": ("STRING", {{"forceInput": True}})}}}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "watch"

    def run(self, seconds, after=""):
        time.sleep(seconds)
        return {{"ui": {{"text": [VERSION + ":{cls}"]}}, "result": (VERSION,)}}
'''


def pack_source(version: str, classes: tuple[str, ...] = ("WatchEcho",), tail: str = "") -> str:
    body = "".join(NODE.format(cls=c) for c in classes)
    mappings = ", ".join(f'"{c}": {c}' for c in classes)
    return f"import time\n\nVERSION = {version!r}\n{body}\nNODE_CLASS_MAPPINGS = {{{mappings}}}\n{tail}"


def write_pack(pack: Path, source: str) -> None:
    (pack / "__init__.py").write_text(source)


def watched_app(paths: Any, tmp_path: Path, source: str = pack_source("v1"),
                find_links: list[str] | None = None) -> tuple[Any, Path]:
    pack = tmp_path / "extensions" / "watch_pack"
    pack.mkdir(parents=True)
    write_pack(pack, source)
    registry = Registry()
    load_builtin(registry, paths)
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir,
                                           extensions_dir=pack.parent, envs_dir=tmp_path / "envs", offline=True,
                                           find_links=list(find_links or [])))
    install(app, quiet=0.3, interval=0.1)
    return app, pack


async def wait_for(check: Any, seconds: float = 30.0) -> Any:
    for _ in range(int(seconds / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def reloads(client: TestClient) -> dict[str, Any]:
    [status] = await (await client.get("/nodehost/packs")).json()
    return status


async def run(client: TestClient, node: str, prompt_id: str, seconds: float = 0.0) -> None:
    resp = await client.post("/prompt", json={"prompt": {"n": {"class_type": node, "inputs": {"seconds": seconds}}},
                                              "prompt_id": prompt_id})
    assert resp.status == 200, await resp.text()


async def history(client: TestClient, prompt_id: str) -> dict[str, Any]:
    async def done() -> Any:
        return (await (await client.get(f"/history/{prompt_id}")).json()).get(prompt_id)

    return await wait_for(done)


async def node_events(ws: Any) -> dict[str, Any]:
    while True:
        msg = json.loads((await asyncio.wait_for(ws.receive(), 30)).data)
        if msg["type"] == EVENT:
            return msg["data"]


async def test_an_edited_pack_gets_its_new_node_and_runs_it(paths, tmp_path: Path) -> None:
    app, pack = watched_app(paths, tmp_path)
    async with TestClient(TestServer(app)) as client:
        assert "WatchEcho" in await (await client.get("/object_info")).json()
        ws = await client.ws_connect("/ws?clientId=w")
        await ws.receive_json()
        assert await wait_for(_watched(client)) is True
        write_pack(pack, pack_source("v2", ("WatchEcho", "WatchNew")))
        event = await node_events(ws)
        assert event["pack"] == "watch_pack" and event["ok"] is True
        assert event["added"] == ["WatchNew"] and event["removed"] == [] and event["changed"] == []
        info = await (await client.get("/object_info")).json()
        assert info["WatchNew"]["python_module"] == "custom_nodes.watch_pack"
        await run(client, "WatchNew", "new")
        entry = await history(client, "new")
        assert entry["status"]["status_str"] == "success", entry["status"]
        assert entry["outputs"]["n"]["text"] == ["v2:WatchNew"]
        await run(client, "WatchEcho", "echo")  # the kept node runs the new code
        assert (await history(client, "echo"))["outputs"]["n"]["text"] == ["v2:WatchEcho"]
        status = await reloads(client)
        assert status["state"] == "ready" and status["reloads"] == 1
        assert status["last_reload"]["files"] == ["__init__.py"]
        write_pack(pack, pack_source("v3", ("WatchNew",)))  # a node removed
        event = await node_events(ws)
        assert event["removed"] == ["WatchEcho"] and event["nodes"] == ["WatchNew"]
        assert "WatchEcho" not in await (await client.get("/object_info")).json()
        bad = await client.post("/prompt", json={"prompt": {"n": {"class_type": "WatchEcho", "inputs": {}}}})
        assert bad.status == 400  # unknown now, as in ComfyUI
        await ws.close()


async def test_a_broken_edit_keeps_the_old_nodes_marked_failed(paths, tmp_path: Path) -> None:
    app, pack = watched_app(paths, tmp_path)
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws?clientId=w")
        await ws.receive_json()
        await run(client, "WatchEcho", "before")
        assert (await history(client, "before"))["outputs"]["n"]["text"] == ["v1:WatchEcho"]
        await wait_for(_watched(client))
        write_pack(pack, pack_source("v2", tail="raise RuntimeError('half-written edit')\n"))
        event = await node_events(ws)
        assert event["ok"] is False and "RuntimeError: half-written edit (at __init__.py:" in event["error"]
        assert event["nodes"] == ["WatchEcho"] and event["added"] == event["removed"] == []
        assert "WatchEcho" in await (await client.get("/object_info")).json()  # the old definition is kept
        status = await reloads(client)
        assert status["state"] == "failed" and "half-written edit" in status["reason"]
        assert status["nodes"] == ["WatchEcho"]
        await run(client, "WatchEcho", "broken", seconds=0.01)  # not the cached output: the new code is broken
        entry = await history(client, "broken")
        assert entry["status"]["status_str"] == "error"
        error = dict(entry["status"]["messages"])["execution_error"]
        assert error["exception_type"] == "PackReloadFailed" and "half-written edit" in error["exception_message"]
        write_pack(pack, pack_source("v3"))  # fixed: it loads again
        event = await node_events(ws)
        assert event["ok"] is True and event["error"] is None
        assert (await reloads(client))["state"] == "ready"
        await run(client, "WatchEcho", "fixed")  # the inputs of "before": its cached output is gone
        assert (await history(client, "fixed"))["outputs"]["n"]["text"] == ["v3:WatchEcho"]
        await ws.close()


async def test_a_pack_broken_at_start_loads_once_fixed(paths, tmp_path: Path) -> None:
    app, pack = watched_app(paths, tmp_path, "import missing_module_xyz\n")
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws?clientId=w")
        await ws.receive_json()
        assert await wait_for(_watched(client))
        status = await reloads(client)
        assert status["state"] == "failed" and "missing_module_xyz" in status["reason"]
        assert "WatchEcho" not in await (await client.get("/object_info")).json()
        write_pack(pack, pack_source("v1"))
        event = await node_events(ws)
        assert event["ok"] is True and event["added"] == ["WatchEcho"]
        assert (await reloads(client))["state"] == "ready"
        await run(client, "WatchEcho", "now")
        assert (await history(client, "now"))["outputs"]["n"]["text"] == ["v1:WatchEcho"]
        await ws.close()


async def test_an_edit_during_a_prompt_waits_for_it(paths, tmp_path: Path) -> None:
    app, pack = watched_app(paths, tmp_path, pack_source("v1", ("WatchEcho", "WatchGone")))
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws?clientId=w")
        await ws.receive_json()
        resp = await client.post("/prompt", json={"prompt_id": "long", "prompt": {  # two pack nodes in a row
            "a": {"class_type": "WatchEcho", "inputs": {"seconds": 2.5}},
            "b": {"class_type": "WatchEcho", "inputs": {"seconds": 0.0, "after": ["a", 0]}}}})
        assert resp.status == 200
        await wait_for(lambda: _running(client, "long"))
        await wait_for(_watched(client))  # its baseline taken (in a loaded run it once came after the edit)
        write_pack(pack, pack_source("v2"))  # WatchGone removed
        await run(client, "WatchEcho", "queued", seconds=0.01)  # queued behind it: kept, runs after the reload
        await run(client, "WatchGone", "gone", seconds=0.01)  # validated again after the reload: fails
        event = await node_events(ws)
        assert event["ok"] is True
        long = await history(client, "long")
        assert long["status"]["status_str"] == "success", long["status"]  # never killed by the reload
        assert long["outputs"]["a"]["text"] == long["outputs"]["b"]["text"] == ["v1:WatchEcho"]  # all of it old
        queued = await history(client, "queued")
        assert queued["status"]["status_str"] == "success" and queued["outputs"]["n"]["text"] == ["v2:WatchEcho"]
        gone = await history(client, "gone")
        error = dict(gone["status"]["messages"])["execution_error"]
        assert error["exception_type"] == "ValidationFailed" and "WatchGone" in error["exception_message"]
        assert "'watch_pack' was reloaded" in error["exception_message"]
        assert (error["node_id"], error["node_type"]) == ("n", "WatchGone")
        waited = (await reloads(client))["last_reload"]["seconds"]
        assert waited > 1.0  # it waited for the running prompt (about 2.5 s less the debounce)
        await ws.close()


DEP_NODE = '''
import watchdep


class WatchDep:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 0.0})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "watch"

    def run(self, seconds):
        return {"ui": {"text": [watchdep.VALUE]}, "result": (watchdep.VALUE,)}


NODE_CLASS_MAPPINGS["WatchDep"] = WatchDep
'''
#: install.py as packs write them: it runs in the pack's venv, working directory the pack folder
INSTALL = "import sys\nopen('installed.log', 'a').write(sys.prefix + '\\n')\n"


async def test_changed_requirements_rebuild_the_environment(paths, tmp_path: Path, monkeypatch) -> None:
    """A new requirements line (a wheel in --find-links, offline) and an install.py: the reload rebuilds the pack's
    uv venv with them before the new child imports; a requirement that does not resolve keeps the old nodes marked
    failed with uv's error; an edit leaving the dependencies as they were rebuilds nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("wheels", Path(__file__).parents[2] / "isolate" / "wheels.py")
    wheels = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(wheels)  # type: ignore[union-attr]
    wheels.make_wheel(tmp_path / "wheels", "watchdep", "1.0", "VALUE = 'watchdep 1.0'\n")
    wheels.make_wheel(tmp_path / "wheels", "watchdep", "2.0", "VALUE = 'watchdep 2.0'\n")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    app, pack = watched_app(paths, tmp_path, find_links=[str(tmp_path / "wheels")])
    env = tmp_path / "envs" / "watch_pack"
    async with TestClient(TestServer(app)) as client:
        ws = await client.ws_connect("/ws?clientId=w")
        await ws.receive_json()
        await wait_for(_watched(client))
        (pack / "requirements.txt").write_text("watchdep==1.0\n")
        (pack / "install.py").write_text(INSTALL)
        write_pack(pack, pack_source("v2") + DEP_NODE)  # imports watchdep at module level
        event = await node_events(ws)
        assert event["ok"] is True, event["error"]
        assert event["added"] == ["WatchDep"]
        last = (await reloads(client))["last_reload"]
        assert last["rebuilt"] is True and last["notes"] == []
        assert sorted(last["files"]) == ["__init__.py", "install.py", "requirements.txt"]
        await run(client, "WatchDep", "dep")
        entry = await history(client, "dep")
        assert entry["status"]["status_str"] == "success", entry["status"]
        assert entry["outputs"]["n"]["text"] == ["watchdep 1.0"]
        assert (pack / "installed.log").read_text().split() == [str(env)]  # ran once, in the pack's venv
        assert list((env / "lib").glob("python*/site-packages/watchdep/__init__.py"))

        (pack / "requirements.txt").write_text("watchdep==9.9\n")  # not in the wheel folder
        event = await node_events(ws)
        assert event["ok"] is False and "watchdep" in event["error"], event
        assert event["error"].startswith("its environment could not be rebuilt")
        assert sorted(event["nodes"]) == ["WatchDep", "WatchEcho"]
        assert "WatchDep" in await (await client.get("/object_info")).json()  # kept, marked failed
        status = await reloads(client)
        assert status["state"] == "failed" and "watchdep" in status["reason"]
        await run(client, "WatchDep", "broken", seconds=0.01)
        error = dict((await history(client, "broken"))["status"]["messages"])["execution_error"]
        assert error["exception_type"] == "PackReloadFailed" and "could not be rebuilt" in error["exception_message"]

        (pack / "requirements.txt").write_text("watchdep==2.0\n")
        event = await node_events(ws)
        assert event["ok"] is True and event["error"] is None
        await run(client, "WatchDep", "two", seconds=0.02)
        assert (await history(client, "two"))["outputs"]["n"]["text"] == ["watchdep 2.0"]
        assert len((pack / "installed.log").read_text().split()) == 2  # install.py ran again with the new deps
        built = (env / ".nodehost-env.json").stat().st_mtime_ns

        (pack / "pyproject.toml").write_text('[project]\nname = "watch-pack"\nversion = "0.2"\n')
        event = await node_events(ws)
        assert event["ok"] is True
        assert (await reloads(client))["last_reload"]["rebuilt"] is False  # no dependency in it: nothing to build
        assert (env / ".nodehost-env.json").stat().st_mtime_ns == built

        # the user's manifest beside the pack replaces the pin: a change to the pack too, rebuilt from it
        (pack.parent / f"{pack.name}.deps.toml").write_text('add = ["watchdep==1.0"]\n')
        event = await node_events(ws)
        assert event["ok"] is True, event["error"]
        last = (await reloads(client))["last_reload"]
        assert last["files"] == [f"../{pack.name}.deps.toml"] and last["rebuilt"] is True
        await run(client, "WatchDep", "manifest", seconds=0.03)
        assert (await history(client, "manifest"))["outputs"]["n"]["text"] == ["watchdep 1.0"]
        await ws.close()


def _watched(client: TestClient) -> Any:
    async def check() -> bool:
        return bool((await reloads(client))["watched"])

    return check


async def _running(client: TestClient, prompt_id: str) -> bool:
    queue = await (await client.get("/queue")).json()
    return any(item[1] == prompt_id for item in queue["queue_running"])


def test_serve_watch_packs_flag(tmp_path: Path) -> None:
    """``nodehost serve --watch-packs``, a real server process: the edited pack's new node appears, and the
    page's listener is served among the frontend extensions."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    pack = tmp_path / "extensions" / "watch_pack"
    pack.mkdir(parents=True)
    write_pack(pack, pack_source("v1"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--watch-packs", "--port", str(port),
                             "--extensions-dir", str(pack.parent), "--envs-dir", str(tmp_path / "envs"), "--offline",
                             "--memory-only", "--base-directory", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> Any:
        return json.loads(urllib.request.urlopen(base + path, timeout=30).read())

    try:
        for _ in range(600):
            try:
                info = get("/object_info")
                break
            except OSError:
                time.sleep(0.05)
        assert "WatchEcho" in info and "WatchNew" not in info
        assert "/extensions/nodehost/watch_packs.js" in get("/extensions")
        js = urllib.request.urlopen(base + "/extensions/nodehost/watch_packs.js", timeout=10).read().decode()
        assert "nodehost.node_defs_changed" in js and "refreshComboInNodes" in js
        for _ in range(600):  # edits count once the watch has its baseline
            if get("/nodehost/packs")[0]["watched"]:
                break
            time.sleep(0.05)
        write_pack(pack, pack_source("v2", ("WatchEcho", "WatchNew")))
        for _ in range(300):
            if "WatchNew" in get("/object_info"):
                break
            time.sleep(0.05)
        assert "WatchNew" in get("/object_info")
        [status] = get("/api/nodehost/packs")
        assert status["state"] == "ready" and status["reloads"] == 1 and status["nodes"] == ["WatchEcho", "WatchNew"]
    finally:
        proc.terminate()
        proc.wait(15)
        log = proc.stderr.read().decode()
        proc.stderr.close()
    assert "pack watch_pack reloaded: 2 nodes (added ['WatchNew']" in log


def test_watch_packs_refuses_ray_workers(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "host.cli", "serve", "--watch-packs", "--workers", "ray",
                           "--base-directory", str(tmp_path), "--memory-only"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "--watch-packs needs --workers local" in done.stderr
