"""The default workflow through the real aiohttp app: /object_info lists the checkpoint (and one dropped in
later), /prompt runs it with progress and binary preview frames on the WebSocket, /view serves the image;
a broken checkpoint is a node error and the server keeps serving."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from e2e.helpers import CHECKPOINT, txt2img

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.folders import ModelFolders
from host.models.devices import DeviceConfig
from host.models.manager import ModelManager
from host.registry import Registry
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def client(base_dir: Path, tmp_path: Path):
    config = ServerConfig(output_dir=tmp_path / "output", temp_dir=tmp_path / "temp", input_dir=base_dir / "input",
                          user_dir=tmp_path / "user", models_dir=base_dir / "models")
    models = ModelFolders(base_dir / "models")
    registry = Registry()
    load_builtin(registry, OutputPaths(config.output_dir, config.temp_dir),
                 NodeFolders(config.input_dir, config.output_dir, config.temp_dir, models))
    manager = ModelManager(DeviceConfig(cpu=True), models, preview_method="latent2rgb")
    async with TestClient(TestServer(build_app(registry, config, models=manager))) as c:
        yield c


async def run_prompt(client: TestClient, prompt: dict[str, Any]) -> tuple[str, list[Any], list[bytes]]:
    ws = await client.ws_connect("/ws?clientId=gen")
    queued = await client.post("/prompt", json={"prompt": prompt, "client_id": "gen"})
    assert queued.status == 200, await queued.text()
    prompt_id = (await queued.json())["prompt_id"]
    messages, frames = [], []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 120)
        if msg.type == WSMsgType.BINARY:
            frames.append(msg.data)
            continue
        data = msg.json()
        messages.append(data)
        if data["type"] == "executing" and data["data"]["node"] is None and data["data"].get("prompt_id") == prompt_id:
            await ws.close()
            return prompt_id, messages, frames


async def test_default_workflow_through_the_server(client: TestClient, base_dir: Path) -> None:
    info = await (await client.get("/object_info/CheckpointLoaderSimple")).json()
    assert CHECKPOINT in info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    _, messages, frames = await run_prompt(client, txt2img(steps=2, prefix="srv"))
    progress = [m["data"]["value"] for m in messages if m["type"] == "progress" and m["data"]["node"] == "5"]
    assert progress == [1, 2] and len(frames) == 2
    [executed] = [m for m in messages if m["type"] == "executed" and m["data"]["node"] == "7"]
    image = executed["data"]["output"]["images"][0]
    view = await client.get("/view", params={"filename": image["filename"], "type": "output"})
    assert view.status == 200 and (await view.read())[:4] == b"\x89PNG"


async def test_a_dropped_checkpoint_appears_and_a_broken_one_fails_cleanly(client: TestClient,
                                                                           base_dir: Path) -> None:
    folder = base_dir / "models" / "checkpoints"
    shutil.copyfile(folder / CHECKPOINT, folder / "copy.safetensors")
    (folder / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    try:
        info = await (await client.get("/object_info")).json()
        assert {"copy.safetensors", "broken.safetensors"} <= set(
            info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0])
        _, messages, _ = await run_prompt(client, txt2img(steps=1, ckpt="broken.safetensors"))
        [error] = [m for m in messages if m["type"] == "execution_error"]
        assert error["data"]["node_id"] == "1" and "broken.safetensors" in error["data"]["exception_message"]
        _, messages, _ = await run_prompt(client, txt2img(steps=1, ckpt="copy.safetensors", prefix="ok"))
        assert any(m["type"] == "execution_success" for m in messages)
    finally:
        (folder / "copy.safetensors").unlink()
        (folder / "broken.safetensors").unlink()
