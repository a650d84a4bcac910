"""Jobs API, /system_stats and /free."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client(registry, paths):
    app = build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir))
    async with TestClient(TestServer(app)) as c:
        yield c


def prompt(prefix: str, width: int = 8) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": width, "height": 8, "batch_size": 2, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}}}


async def finished(client: TestClient, prompt_id: str) -> None:
    for _ in range(300):
        if await (await client.get(f"/history/{prompt_id}")).json():
            return
        await asyncio.sleep(0.02)


async def test_jobs_list_and_detail(client: TestClient) -> None:
    ok = await (await client.post("/prompt", json={"prompt": prompt("j"), "extra_data": {
        "extra_pnginfo": {"workflow": {"id": "wf-1"}}}})).json()
    bad = await (await client.post("/prompt", json={"prompt": prompt("../../x")})).json()
    await finished(client, ok["prompt_id"])
    await finished(client, bad["prompt_id"])
    body = await (await client.get("/api/jobs")).json()
    assert body["pagination"] == {"offset": 0, "limit": None, "total": 2, "has_more": False}
    by_id = {j["id"]: j for j in body["jobs"]}
    done = by_id[ok["prompt_id"]]
    assert done["status"] == "completed" and done["outputs_count"] == 2 and done["workflow_id"] == "wf-1"
    assert done["preview_output"]["nodeId"] == "2" and done["preview_output"]["mediaType"] == "images"
    assert done["execution_end_time"] >= done["execution_start_time"] and "execution_error" not in done
    failed = by_id[bad["prompt_id"]]
    assert failed["status"] == "failed" and failed["execution_error"]["node_id"] == "2"
    only = await (await client.get("/api/jobs?status=failed,cancelled&limit=1")).json()
    assert [j["id"] for j in only["jobs"]] == [bad["prompt_id"]]
    asc = await (await client.get("/api/jobs?sort_order=asc&sort_by=execution_duration&offset=-3")).json()
    assert asc["pagination"]["offset"] == 0 and len(asc["jobs"]) == 2
    detail = await (await client.get(f"/api/jobs/{ok['prompt_id']}")).json()
    assert detail["workflow"]["prompt"] == prompt("j") and detail["execution_status"]["status_str"] == "success"
    assert detail["outputs"]["2"]["images"][0]["filename"] == "j_00001_.png"
    assert (await client.get("/api/api/jobs")).status == 200  # ComfyUI's quirk: the /api twin of /api/jobs
    assert (await client.get("/jobs")).status == 404


async def test_jobs_bad_queries(client: TestClient) -> None:
    for query in ("status=done", "limit=0", "limit=x", "sort_by=size", "sort_order=up"):
        resp = await client.get(f"/api/jobs?{query}")
        assert resp.status == 400 and "error" in await resp.json()
    missing = await client.get("/api/jobs/nope")
    assert missing.status == 404 and await missing.json() == {"error": "Job not found"}


async def test_system_stats(client: TestClient) -> None:
    stats = await (await client.get("/system_stats")).json()
    assert stats["system"]["ram_total"] > stats["system"]["ram_free"] > 0
    assert stats["system"]["pytorch_version"].startswith("2.") and stats["devices"][0]["type"] in ("cpu", "cuda")


async def test_free_memory_resets_the_caches(client: TestClient) -> None:
    first = await (await client.post("/prompt", json={"prompt": prompt("f")})).json()
    await finished(client, first["prompt_id"])
    state = client.app[__import__("host.server.app", fromlist=["STATE"]).STATE]
    assert len(state.executor.cache) > 0
    assert (await client.post("/free", json={"free_memory": True, "unload_models": True})).status == 200
    assert len(state.executor.cache) == 0
    assert (await client.post("/api/free", data="nonsense")).status == 400


async def test_system_stats_devices_are_the_model_managers(client: TestClient) -> None:
    from host.server.app import MODELS

    stats = await (await client.get("/system_stats")).json()
    manager = client.app[MODELS]
    assert [d["type"] for d in stats["devices"]] == [d["type"] for d in manager.stats()]
    assert stats["devices"][0]["vram_free"] > 0


async def test_free_unload_models_empties_the_model_cache(client: TestClient, tmp_path) -> None:
    from host.server.app import MODELS, STATE

    manager = client.app[MODELS]
    model_file = tmp_path / "m.safetensors"
    model_file.write_bytes(b"\0" * 8)
    manager.cached(("checkpoint",), model_file, object)
    assert manager.cached_files() and client.app[STATE].executor.models is manager
    assert (await client.post("/free", json={"unload_models": True})).status == 200
    assert manager.cached_files() == []
