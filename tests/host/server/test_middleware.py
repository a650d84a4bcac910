"""Origin check, CORS and the bearer token."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.server.app import ServerConfig, build_app
from host.server.middleware import is_loopback


async def make(registry, **config) -> TestClient:
    client = TestClient(TestServer(build_app(registry, ServerConfig(**config))))
    await client.start_server()
    return client


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1:8188") and is_loopback("localhost") and is_loopback("[::1]:80")
    assert not is_loopback("example.com") and not is_loopback("192.168.1.5:8188") and not is_loopback(None)


async def test_cross_origin_post_to_loopback_is_refused(registry) -> None:
    client = await make(registry)
    try:
        host = f"127.0.0.1:{client.port}"
        resp = await client.post("/prompt", json={}, headers={"Origin": "http://evil.example", "Host": host})
        assert resp.status == 403
        same = await client.get("/prompt", headers={"Origin": f"http://{host}", "Host": host})
        assert same.status == 200
        assert (await client.get("/prompt")).status == 200  # no Origin: API clients
    finally:
        await client.close()


async def test_cors_when_enabled(registry) -> None:
    client = await make(registry, enable_cors_header="https://app.example")
    try:
        resp = await client.options("/prompt", headers={"Origin": "https://app.example"})
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
        resp = await client.get("/prompt", headers={"Origin": "https://other.example"})
        assert resp.status == 200 and "POST" in resp.headers["Access-Control-Allow-Methods"]
    finally:
        await client.close()


@pytest.mark.parametrize("header", [None, "Bearer wrong", "secret", "Basic c2VjcmV0"])
async def test_auth_token_required(registry, header: str | None) -> None:
    client = await make(registry, auth_token="secret")
    try:
        headers = {"Authorization": header} if header else {}
        assert (await client.get("/object_info", headers=headers)).status == 401
        assert (await client.get("/object_info", headers={"Authorization": "Bearer secret"})).status == 200
        ws = await client.ws_connect("/ws?token=secret")
        assert (await ws.receive_json())["type"] == "status"
        await ws.close()
    finally:
        await client.close()
