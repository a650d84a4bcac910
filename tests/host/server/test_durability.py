"""The durable queue and history: a restart keeps history, runs pending prompts in order, and records the
prompt that was running as failed. The real test kills a ``nodehost serve`` with SIGKILL mid-prompt."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.server.app import ServerConfig, build_app
from host.server.recovery import RESTART_MESSAGE

pytestmark = pytest.mark.timeout(120)


def invert(prefix: str) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": prefix}}}


def slow(prefix: str) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 2,
                                                         "color": 0}},
            "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "lanczos",
                                                           "scale_by": 2.0}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix}}}


async def wait_history(client: TestClient, prompt_id: str) -> dict[str, Any]:
    import asyncio

    for _ in range(500):
        found = await (await client.get(f"/history/{prompt_id}")).json()
        if found:
            return found[prompt_id]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{prompt_id} never finished")


async def test_history_survives_a_restart(registry, paths, tmp_path: Path) -> None:
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, database=tmp_path / "db.sqlite3")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        body = await (await client.post("/prompt", json={"prompt": invert("a"), "prompt_id": "first"})).json()
        assert body["number"] == 1
        await wait_history(client, "first")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        history = await (await client.get("/history")).json()
        assert list(history) == ["first"] and history["first"]["status"]["status_str"] == "success"
        second = await (await client.post("/prompt", json={"prompt": invert("b")})).json()
        assert second["number"] == 2  # numbers continue after a restart
        await client.post("/history", json={"delete": ["first"]})
    async with TestClient(TestServer(build_app(registry, config))) as client:
        assert "first" not in await (await client.get("/history")).json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "host.cli", "serve", "--port", str(self.port), "--output-directory",
             str(self.tmp / "out"), "--temp-directory", str(self.tmp / "temp"), "--user-directory",
             str(self.tmp / "user")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(400):
            try:
                urllib.request.urlopen(self.base + "/prompt", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server did not start")

    def get(self, path: str) -> Any:
        return json.loads(urllib.request.urlopen(self.base + path, timeout=10).read())

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode())
        return json.loads(urllib.request.urlopen(request, timeout=10).read())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(20)


@pytest.mark.e2e
def test_sigkill_mid_prompt_then_restart(tmp_path: Path) -> None:
    served = Served(tmp_path)
    served.start()
    try:
        served.post("/prompt", {"prompt": slow("slow"), "prompt_id": "running"})
        served.post("/prompt", {"prompt": invert("p1"), "prompt_id": "pending-1"})
        served.post("/prompt", {"prompt": invert("p2"), "prompt_id": "pending-2"})
        for _ in range(400):
            if served.get("/queue")["queue_running"]:
                break
            time.sleep(0.01)
        assert served.get("/queue")["queue_running"][0][1] == "running"
        served.stop(signal.SIGKILL)
        served.start()
        # the very first answers after the restart already hold what the store holds (they wait for recovery)
        assert "running" in served.get("/history/running")
        queue = served.get("/queue")
        seen = {i[1] for i in queue["queue_running"] + queue["queue_pending"]} | set(served.get("/history"))
        assert {"pending-1", "pending-2"} <= seen
        for _ in range(400):
            history = served.get("/history")
            if "pending-2" in history:
                break
            time.sleep(0.05)
        assert list(history) == ["running", "pending-1", "pending-2"]
        failed = history["running"]["status"]
        assert failed["status_str"] == "error" and failed["messages"][0][1]["exception_message"] == RESTART_MESSAGE
        assert history["pending-1"]["status"]["status_str"] == "success"
        assert history["pending-2"]["status"]["status_str"] == "success"
        assert (tmp_path / "out" / "p1_00001_.png").exists() and (tmp_path / "out" / "p2_00001_.png").exists()
        assert served.get("/queue") == {"queue_running": [], "queue_pending": []}
    finally:
        served.stop(signal.SIGKILL)
