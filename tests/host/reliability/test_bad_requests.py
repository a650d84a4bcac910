"""Issue 15 items 6 and 8: the body limit is applied on Content-Length before reading; every request that
answered 500 answers a 4xx with a message; responses are strict JSON (no NaN / Infinity)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)


class NanOut:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        return {"ui": {"v": [float("nan"), float("inf")]}}


@pytest.fixture
async def client(make_registry, paths, tmp_path: Path):
    (tmp_path / "input").mkdir()
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, input_dir=tmp_path / "input",
                          user_dir=tmp_path / "user", max_upload_size_mb=1)
    async with TestClient(TestServer(build_app(make_registry({"NanOut": NanOut}), config))) as c:
        yield c


def strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"POST /prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 2000000000\r\n\r\n{")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)  # before the fix: waits for 2 GB that never come
    assert b" 413 " in status
    writer.close()
    over = await client.post("/settings", data=io.BytesIO(b"x" * (1024 * 1024 + 10)))
    assert over.status == 413


async def assert_4xx(resp: aiohttp.ClientResponse) -> str:
    text = await resp.text()
    assert 400 <= resp.status < 500, f"{resp.status}: {text[:300]}"
    assert text.strip()
    return text


async def test_names_too_long_answer_4xx(client: TestClient) -> None:
    long = "a" * 300
    await assert_4xx(await client.get("/view", params={"filename": long + ".png"}))
    await assert_4xx(await client.get("/view", params={"filename": "x.png", "subfolder": long}))
    form = aiohttp.FormData()
    form.add_field("image", b"\x89PNG", filename=long + ".png")
    await assert_4xx(await client.post("/upload/image", data=form))


async def test_upload_onto_a_file_or_folder_answers_4xx(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "input" / "afile").write_bytes(b"x")
    (tmp_path / "input" / "adir.png").mkdir()
    form = aiohttp.FormData()
    form.add_field("image", b"data", filename="x.png")
    form.add_field("subfolder", "afile")
    await assert_4xx(await client.post("/upload/image", data=form))
    form = aiohttp.FormData()
    form.add_field("image", b"data", filename="adir.png")
    form.add_field("overwrite", "true")
    await assert_4xx(await client.post("/upload/image", data=form))


@pytest.mark.parametrize("body", [
    b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"prompt": {"\\ud800": {"class_type": "NanOut", "inputs": {}}}}',
    b'{"prompt": {"1": {"class_type": "NanOut", "inputs": {}}}, "client_id": "\\ud800"}',
    b'{"prompt": {"1": {"class_type": "NanOut", "inputs": {}}}, "number": NaN}',
    b'{"prompt": {"1": {"class_type": "NanOut", "inputs": {}}}, "number": 1e400}',
])
async def test_bad_prompt_bodies_answer_400(client: TestClient, body: bytes) -> None:
    text = await assert_4xx(await client.post("/prompt", data=body))
    strict(text)


async def test_queue_delete_with_a_lone_surrogate_answers_400(client: TestClient) -> None:
    await assert_4xx(await client.post("/queue", data=b'{"delete": ["\\ud800"]}'))


async def test_settings_on_an_unusable_user_folder_answer_4xx(make_registry, paths, tmp_path: Path) -> None:
    (tmp_path / "user").write_text("a file where the user folder should be")
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, user_dir=tmp_path / "user")
    async with TestClient(TestServer(build_app(make_registry(), config))) as c:
        await assert_4xx(await c.get("/settings"))
        await assert_4xx(await c.post("/settings", json={"a": 1}))


async def test_a_nan_output_gives_strict_json_history(client: TestClient) -> None:
    resp = await client.post("/prompt", json={"prompt": {"1": {"class_type": "NanOut", "inputs": {}}},
                                              "prompt_id": "nan"})
    assert resp.status == 200
    for _ in range(400):
        text = await (await client.get("/history/nan")).text()
        if text.strip() != "{}":
            break
        await asyncio.sleep(0.02)
    history = strict(text)
    assert history["nan"]["outputs"]["1"]["v"] == [None, None]
    strict(await (await client.get("/history")).text())
    strict(await (await client.get("/api/jobs")).text())
