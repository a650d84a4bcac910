"""Issue 15 item 5: a WebSocket client that never reads does not hold up the others; its outbox is bounded
and it is closed after the deadline."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server.app import STATE, ServerConfig, build_app
from host.server.ws import coalescing_key

pytestmark = pytest.mark.timeout(60)


async def test_a_client_that_never_reads_does_not_stall_the_others(registry: Registry, paths) -> None:
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    sockets = app[STATE].sockets
    sockets.outbox_limits = {"max_items": 20, "max_bytes": 8 * 1024 * 1024, "deadline": 2.0}
    async with TestClient(TestServer(app)) as client:
        slow = await client.ws_connect("/ws?clientId=slow")  # never reads after this
        fast = await client.ws_connect("/ws?clientId=fast")
        assert (await fast.receive_json())["type"] == "status"
        payload = "x" * (1024 * 1024)
        started = time.monotonic()
        for i in range(60):
            sockets.send_soon({"type": "big", "data": {"i": i, "pad": payload}}, None)
            got = await asyncio.wait_for(fast.receive_json(), 10)
            while got["type"] != "big":
                got = await asyncio.wait_for(fast.receive_json(), 10)
            assert got["data"]["i"] == i
        assert time.monotonic() - started < 20
        assert sockets.outboxes["fast"].size == 0
        for _ in range(300):  # past the deadline, with more to send, the slow client is closed
            sockets.send_soon({"type": "big", "data": {"i": -1, "pad": payload}}, None)
            await asyncio.sleep(0.05)
            if "slow" not in sockets.outboxes or sockets.outboxes["slow"].closed:
                break
        assert "slow" not in sockets.outboxes or sockets.outboxes["slow"].closed
        assert len(sockets.outboxes["fast"].queue) <= 20
        await fast.close()
        await slow.close()


def test_progress_messages_coalesce_per_prompt_and_node() -> None:
    assert coalescing_key({"type": "progress_state", "data": {"prompt_id": "p"}}) == ("progress_state", "p")
    assert coalescing_key({"type": "progress", "data": {"prompt_id": "p", "node": "3"}}) == ("progress", "p", "3")
    assert coalescing_key({"type": "executed", "data": {"prompt_id": "p"}}) is None
