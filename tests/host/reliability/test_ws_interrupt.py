"""Issue 15 items 4 and 10: a WebSocket frame over 4 MB closes that socket (1009); /interrupt with an empty
prompt_id interrupts the running prompt."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server.app import STATE, ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client(registry: Registry, paths):
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_a_frame_over_four_megabytes_closes_the_socket(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?clientId=big")
    await ws.receive_json()
    sockets = client.server.app[STATE].sockets.sockets
    assert "big" in sockets
    try:
        await ws.send_str("x" * (4 * 1024 * 1024 + 16))
        msg = await asyncio.wait_for(ws.receive(), 20)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    except ConnectionError:  # the server closed (1009) before the whole frame was written
        pass
    for _ in range(200):
        if "big" not in sockets:
            break
        await asyncio.sleep(0.02)
    assert "big" not in sockets, "the server dropped the socket that sent too much"
    small = await client.ws_connect("/ws?clientId=small")  # others keep working
    assert (await small.receive_json())["type"] == "status"
    await small.send_str("y" * 1024)
    await small.close()


def slow() -> dict:
    prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 512, "batch_size": 1,
                                                           "color": 0}}}
    for i in range(2, 400):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": ["399", 0]}}
    return prompt


async def test_an_empty_prompt_id_interrupts_the_running_prompt(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?clientId=i")
    await ws.receive_json()
    assert (await client.post("/prompt", json={"prompt": slow(), "prompt_id": "long", "client_id": "i"})).status == 200
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), 30)
        if msg["type"] == "executing" and msg["data"].get("node") not in (None, "1"):
            break
    assert (await client.post("/interrupt", json={"prompt_id": ""})).status == 200
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), 30)
        if msg["type"] in ("execution_interrupted", "execution_success"):
            break
    assert msg["type"] == "execution_interrupted"
    await ws.close()
