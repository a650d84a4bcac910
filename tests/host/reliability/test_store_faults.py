"""Issue 15 item 3: a corrupt database is moved aside loudly at start-up (readable history kept, a fresh
store used); a store that breaks while running gives clear errors and /system_stats reports it."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.server.app import STATE, ServerConfig, build_app
from host.server.store import Store

pytestmark = pytest.mark.timeout(60)


def small(color: int) -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": color}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}


def filled(path: Path, entries: int = 50) -> None:
    store = Store(path)
    for i in range(entries):
        store.add_history(f"h{i}", {"outputs": {}, "pad": "x" * 2000}, 1000)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def corrupt(path: Path, page: int) -> None:
    with open(path, "r+b") as f:
        f.seek(4096 * page)
        f.write(os.urandom(4096))


@pytest.mark.parametrize("page", [0, 1, 3])
def test_a_corrupt_file_is_moved_aside_loudly(tmp_path: Path, caplog, page: int) -> None:
    path = tmp_path / "nodehost.sqlite3"
    filled(path)
    corrupt(path, page)
    with caplog.at_level(logging.ERROR):
        store = Store(path)
    assert store.moved_aside is not None and store.moved_aside.exists()
    assert store.moved_aside.name.startswith("nodehost.sqlite3.corrupt-")
    assert str(path) in caplog.text and "CORRUPT" in caplog.text
    store.add_history("new", {"outputs": {}}, 1000)  # the fresh store works
    assert ("new", {"outputs": {}}) in store.history()
    store.close()


def test_an_empty_file_is_reported(tmp_path: Path, caplog) -> None:
    path = tmp_path / "nodehost.sqlite3"
    path.write_bytes(b"")
    with caplog.at_level(logging.ERROR):
        store = Store(path)
    assert "empty" in caplog.text and store.moved_aside is not None
    store.close()


def test_readable_history_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "nodehost.sqlite3"
    filled(path, 200)
    corrupt(path, 20)  # a leaf page of the history table: the other rows survive
    store = Store(path)
    kept = dict(store.history())
    assert store.moved_aside is not None
    assert 100 < len(kept) < 200
    store.close()


async def test_a_store_that_breaks_while_running_gives_clear_errors(registry, paths, tmp_path: Path) -> None:
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, database=tmp_path / "db.sqlite3")
    app = build_app(registry, config)
    async with TestClient(TestServer(app)) as client:
        assert (await client.post("/prompt", json={"prompt": small(1)})).status == 200
        app[STATE].store.db.close()  # the database goes away under the server
        resp = await client.post("/prompt", json={"prompt": small(2)})
        assert resp.status == 503
        assert "database" in (await resp.json())["error"]["message"]
        assert (await client.post("/history", json={"clear": True})).status == 503
        stats = await (await client.get("/system_stats")).json()
        assert stats["system"]["nodehost_store"]["ok"] is False
        assert stats["system"]["nodehost_store"]["error"]
        await asyncio.sleep(0.1)
