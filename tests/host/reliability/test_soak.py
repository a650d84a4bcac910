"""Issue 15 soak (bounded, loopback): 200 prompts with 1 MB tensors, 20 WebSocket clients of which one never
reads. Every prompt ends in history, RSS stays within a bound, and each reading client gets the end signal of
every prompt it submitted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(120)

PROMPTS, CLIENTS, SIDE = 200, 20, 296  # 296 x 296 x 3 float32 = 1.0 MB


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def prompt(color: int) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": SIDE, "height": SIDE, "batch_size": 1,
                                                         "color": color}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


async def test_soak(registry: Registry, paths) -> None:
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as client:
        sockets = [await client.ws_connect(f"/ws?clientId=c{i}") for i in range(CLIENTS)]
        fast = sockets[1:]  # sockets[0] never reads
        for ws in fast:
            assert (await ws.receive_json())["type"] == "status"
        mine: dict[int, set[str]] = {i: set() for i in range(CLIENTS)}
        done: dict[int, set[str]] = {i: set() for i in range(1, CLIENTS)}

        async def reader(i: int) -> None:
            ws = sockets[i]
            while True:
                msg = await ws.receive_json()
                data = msg.get("data") or {}
                if msg["type"] == "executing" and data.get("node") is None and data.get("prompt_id"):
                    done[i].add(data["prompt_id"])

        readers = [asyncio.ensure_future(reader(i)) for i in range(1, CLIENTS)]
        started = time.monotonic()
        base = None
        for n in range(PROMPTS):
            owner = n % CLIENTS
            resp = await client.post("/prompt", json={"prompt": prompt(n), "client_id": f"c{owner}",
                                                      "prompt_id": f"s{n}"})
            assert resp.status == 200
            mine[owner].add(f"s{n}")
            if n == 20:
                base = rss_mb()
        while time.monotonic() - started < 100:
            if all(done[i] >= mine[i] for i in done):
                break
            await asyncio.sleep(0.1)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        missing = {i: sorted(mine[i] - done[i])[:3] for i in done if mine[i] - done[i]}
        assert not missing, f"reading clients missed end signals: {missing}"
        history = await (await client.get("/history")).json()
        assert len(history) == PROMPTS and all(h["status"]["status_str"] == "success" for h in history.values())
        assert base is not None
        grown = rss_mb() - base
        assert grown < 150, f"RSS grew {grown:.0f} MB over {PROMPTS} prompts of 1 MB tensors"
        for ws in sockets:
            await ws.close()
