"""GET /metrics (host/server/metrics.py) on the in-process server: Prometheus text with the queue, prompts by
outcome, prompt and node durations, steps and the worker's memory; behind --auth-token."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def prompt(prefix: str) -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}}}


async def finished(client: TestClient, prompt_id: str) -> None:
    for _ in range(500):
        if await (await client.get(f"/history/{prompt_id}")).json():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the prompt never finished")


async def test_metrics_after_prompts(registry, paths) -> None:
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as client:
        ok = (await (await client.post("/prompt", json={"prompt": prompt("m")})).json())["prompt_id"]
        bad = (await (await client.post("/prompt", json={"prompt": prompt("../../x")})).json())["prompt_id"]
        await finished(client, ok)
        await finished(client, bad)
        resp = await client.get("/metrics")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        got = samples(await resp.text())
        assert (await client.get("/api/metrics")).status == 200
    assert got[("nodehost_prompts_total", (("outcome", "success"), ("worker", "local")))] == 1
    assert got[("nodehost_prompts_total", (("outcome", "error"), ("worker", "local")))] == 1
    assert got[("nodehost_prompt_duration_seconds_count", (("worker", "local"),))] == 2
    assert got[("nodehost_node_duration_seconds_count", (("class_type", "EmptyImage"),))] == 1  # then cached
    assert got[("nodehost_node_duration_seconds_count", (("class_type", "SaveImage"),))] == 1  # the bad one failed
    assert got[("nodehost_queue_pending", ())] == 0 and got[("nodehost_queue_running", ())] == 0
    assert got[("nodehost_workers", (("state", "ready"),))] == 1
    assert ("nodehost_model_memory_bytes", (("device", "cpu"), ("worker", "local"))) in got
    assert got[("nodehost_shared_memory_bytes", (("worker", "local"),))] == 0


async def test_metrics_needs_the_auth_token(registry, paths) -> None:
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, auth_token="s3cret")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        assert (await client.get("/metrics")).status == 401
        resp = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert resp.status == 200 and "nodehost_queue_pending" in await resp.text()
