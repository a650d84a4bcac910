"""Issue 15 item 2: a prompt_id already queued, running or in history is refused with a 400 naming it; the
store never replaces a queued row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.registry import Registry
from host.server.app import ServerConfig, build_app
from host.server.store import Store, StoredPrompt

pytestmark = pytest.mark.timeout(60)


def small(color: int = 0) -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}


def slow() -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 2, "color": 0}},
            "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "lanczos",
                                                           "scale_by": 2.0}},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


async def test_a_reused_prompt_id_is_refused_naming_it(registry: Registry, paths, tmp_path: Path) -> None:
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, database=tmp_path / "db.sqlite3")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        assert (await client.post("/prompt", json={"prompt": slow(), "prompt_id": "D2"})).status == 200
        assert (await client.post("/prompt", json={"prompt": small(1), "prompt_id": "other"})).status == 200
        again = await client.post("/prompt", json={"prompt": small(2), "prompt_id": "D2"})
        assert again.status == 400
        body = await again.json()
        assert "D2" in body["error"]["message"] and body["error"]["type"] == "duplicate_prompt_id"
        queue = await (await client.get("/queue")).json()
        ids = [i[1] for i in queue["queue_running"] + queue["queue_pending"]]
        assert sorted(ids) == ["D2", "other"]
        for _ in range(600):
            if await (await client.get("/history/other")).json():
                break
            import asyncio
            await asyncio.sleep(0.05)
        in_history = await client.post("/prompt", json={"prompt": small(3), "prompt_id": "other"})
        assert in_history.status == 400 and "in history" in (await in_history.json())["error"]["message"]


def test_the_store_never_replaces_a_queued_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    store.add_pending(StoredPrompt(1, "D2", {"a": 1}, {}, []))
    with pytest.raises(sqlite3.IntegrityError):
        store.add_pending(StoredPrompt(2, "D2", {"b": 2}, {}, []))
    assert [p.prompt for p in store.queued("pending")] == [{"a": 1}]
    store.close()
