"""Binary preview frames (COMPAT §2.4): type 4 with metadata for clients that asked, type 1 for the others."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest
from aiohttp.test_utils import TestClient, TestServer

from builtin_nodes import load_builtin
from host.registry import Registry
from host.server.app import ServerConfig, build_app
from isolate.context import report_progress

pytestmark = pytest.mark.timeout(60)


class Previewing:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        from PIL import Image

        report_progress(1, 2, preview=("JPEG", Image.new("RGB", (1024, 256), "red"), 512))
        return {"ui": {"done": [True]}}


@pytest.fixture
async def client(paths):
    from isolate.local_runner import LocalRunner

    registry = Registry()
    load_builtin(registry, paths)
    registry.add_classes({"Previewing": Previewing}, LocalRunner())
    app = build_app(registry.freeze(), ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as c:
        yield c


async def frames_for(client: TestClient, sid: str, flags: bool) -> list[bytes]:
    ws = await client.ws_connect(f"/ws?clientId={sid}")
    await ws.receive_json()
    if flags:
        await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
        await ws.receive_json()
    await client.post("/prompt", json={"prompt": {"p": {"class_type": "Previewing", "inputs": {}}},
                                       "client_id": sid, "prompt_id": sid})
    frames = []
    while True:
        msg = await asyncio.wait_for(ws.receive(), 20)
        if isinstance(msg.data, bytes):
            frames.append(msg.data)
        elif json.loads(msg.data) == {"type": "executing", "data": {"node": None, "prompt_id": sid}}:
            break
    await ws.close()
    return frames


async def test_type1_preview_without_metadata_support(client: TestClient) -> None:
    [frame] = await frames_for(client, "plain", flags=False)
    event, image_type = struct.unpack(">II", frame[:8])
    assert (event, image_type) == (1, 1) and frame[8:10] == b"\xff\xd8"  # JPEG


async def test_type4_preview_with_metadata(client: TestClient) -> None:
    import io

    from PIL import Image

    [frame] = await frames_for(client, "meta", flags=True)
    event, length = struct.unpack(">II", frame[:8])
    meta = json.loads(frame[8:8 + length])
    assert event == 4 and meta["node_id"] == "p" and meta["prompt_id"] == "meta" and meta["image_type"] == "image/jpeg"
    image = Image.open(io.BytesIO(frame[8 + length:]))
    assert image.size == (512, 128)  # contained in 512x512
