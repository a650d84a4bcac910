"""Node packs behind the server: their nodes in /object_info, validated (VALIDATE_INPUTS in the child, from the
validation thread) and run through /prompt."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from builtin_nodes import load_builtin
from host.registry import Registry
from host.server.app import ServerConfig, build_app

PACKS = Path(__file__).resolve().parents[2] / "packs"
pytestmark = pytest.mark.timeout(120)


def served_app(paths, tmp_path: Path, **extra: Any) -> Any:
    """An app over the builtin nodes plus a copy of the demo pack (its environment built offline)."""
    ext = tmp_path / "extensions"
    shutil.copytree(PACKS / "demo_pack", ext / "demo_pack")
    registry = Registry()
    load_builtin(registry, paths)
    return build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir,
                                            extensions_dir=ext, envs_dir=tmp_path / "envs", offline=True, **extra))


async def test_pack_nodes_over_http(paths, tmp_path: Path) -> None:
    async with TestClient(TestServer(served_app(paths, tmp_path))) as client:
        info = await (await client.get("/object_info/DemoAdd")).json()
        assert info["DemoAdd"]["python_module"] == "custom_nodes.demo_pack"
        bad = await client.post("/prompt", json={"prompt": {
            "g": {"class_type": "DemoGate", "inputs": {"value": 13, "open": True}},
            "s": {"class_type": "DemoShow", "inputs": {"value": ["g", 0]}}}})
        assert bad.status == 400
        assert (await bad.json())["node_errors"]["g"]["errors"][0]["details"] == "value - 13 is unlucky"
        resp = await client.post("/prompt", json={"prompt": {
            "a": {"class_type": "DemoAdd", "inputs": {"a": 20, "b": 22}},
            "s": {"class_type": "DemoShow", "inputs": {"value": ["a", 0]}}}, "prompt_id": "packs"})
        assert resp.status == 200
        for _ in range(300):
            history = await (await client.get("/history/packs")).json()
            if history:
                break
            await asyncio.sleep(0.02)
        assert history["packs"]["outputs"]["s"]["text"] == ["42"]


async def test_pack_messages_reach_websocket_clients(paths, tmp_path: Path) -> None:
    import json
    import struct

    async with TestClient(TestServer(served_app(paths, tmp_path))) as client:
        ws = await client.ws_connect("/ws?clientId=c")
        await ws.receive_json()
        await client.post("/prompt", json={"prompt": {"n": {"class_type": "DemoNotify", "inputs": {"message": "yo"}}},
                                           "client_id": "c", "prompt_id": "n1"})
        seen, texts = [], []
        while True:
            msg = await asyncio.wait_for(ws.receive(), 20)
            if isinstance(msg.data, bytes):
                texts.append(msg.data)
                continue
            data = json.loads(msg.data)
            seen.append(data)
            if data == {"type": "executing", "data": {"node": None, "prompt_id": "n1"}}:
                break
        assert {"type": "demo.message", "data": {"message": "yo", "node": "n"}} in seen
        event, length = struct.unpack(">II", texts[0][:8])
        assert event == 3 and texts[0][8:8 + length] == b"n" and texts[0][8 + length:] == b"text for n"
        await ws.close()


async def test_pack_web_folders_and_locales(paths, tmp_path: Path) -> None:
    front = tmp_path / "front"
    (front / "extensions" / "core").mkdir(parents=True)
    (front / "index.html").write_text("<html>nodehost</html>")
    (front / "extensions" / "core" / "a.js").write_text("//")
    async with TestClient(TestServer(served_app(paths, tmp_path, extra={"front_end_root": str(front)}))) as client:
        index = await client.get("/")
        assert index.status == 200 and "nodehost" in await index.text()
        assert index.headers["Cache-Control"] == "no-cache"
        assert await (await client.get("/extensions")).json() == ["/extensions/core/a.js",
                                                                   "/extensions/demo_pack/demo.js"]
        js = await client.get("/extensions/demo_pack/demo.js")
        assert js.status == 200 and "demo_pack web extension" in await js.text()
        assert (await client.get("/extensions/demo_pack/../__init__.py")).status in (400, 403, 404)
        assert (await client.get("/extensions/nope/demo.js")).status == 404
        i18n = await (await client.get("/api/i18n")).json()
        assert i18n["en"]["main"]["nodeDefs"]["DemoAdd"]["display_name"] == "Demo Add"
        assert await (await client.get("/workflow_templates")).json() == {"demo_pack": ["add"]}
        subgraphs = await (await client.get("/global_subgraphs")).json()
        [(key, entry)] = subgraphs.items()
        assert entry == {"source": "custom_node", "name": "empty", "info": {"node_pack": "demo_pack"}}
        assert (await (await client.get(f"/global_subgraphs/{key}")).json())["data"].startswith('{"nodes"')
        logs = await client.get("/internal/logs/raw")
        assert logs.status == 200 and "entries" in await logs.json()
        assert (await client.patch("/internal/logs/subscribe", json={"clientId": "x", "enabled": True})).status == 200
        assert (await client.patch("/internal/logs/subscribe", data="nope")).status == 400


async def test_pack_routes_are_forwarded_to_its_child(paths, tmp_path: Path) -> None:
    async with TestClient(TestServer(served_app(paths, tmp_path))) as client:
        resp = await client.get("/demo_pack/hello/world?q=1")
        assert resp.status == 200 and await resp.json() == {"hello": "world", "q": "1"}
        resp = await client.post("/api/demo_pack/echo", json={"a": [1, 2]})
        assert resp.status == 201 and await resp.json() == {"echo": {"a": [1, 2]}}
        assert (await client.get("/demo_pack/nope")).status == 404
        assert (await client.get("/prompt")).status == 200  # ours are not shadowed


async def test_a_pack_that_fails_to_import_still_has_its_locales_and_example_workflows(paths, tmp_path: Path) -> None:
    broken = tmp_path / "extensions" / "broken_i18n"
    (broken / "locales" / "fr").mkdir(parents=True)
    (broken / "example_workflows").mkdir()
    (broken / "__init__.py").write_text("raise ImportError('no such thing')\n")
    (broken / "locales" / "fr" / "main.json").write_text('{"menu": {"broken": "cassé"}}')
    (broken / "example_workflows" / "try.json").write_text('{"nodes": []}')
    async with TestClient(TestServer(served_app(paths, tmp_path))) as client:
        i18n = await (await client.get("/api/i18n")).json()
        templates = await (await client.get("/workflow_templates")).json()
        info = await (await client.get("/object_info")).json()
    assert i18n["fr"]["main"]["menu"]["broken"] == "cassé"
    assert i18n["en"]["main"]["nodeDefs"]["DemoAdd"]["display_name"] == "Demo Add"
    assert templates == {"demo_pack": ["add"], "broken_i18n": ["try"]}
    assert "DemoAdd" in info
