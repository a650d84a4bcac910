"""Server figures against a real ``nodehost serve`` process.

``ready_s``: process start to a first answer on /prompt (median of 3). ``submit_p50_ms`` / ``submit_p99_ms``:
POST /prompt latency, 8 concurrent clients, while a slow prompt executes. ``ws_fanout_ms``: one status message to
50 WebSocket clients (median of 5). ``chain900_s``: EmptyImage 8x8 -> ImageInvert x900 -> PreviewImage over HTTP,
one WebSocket client with its client_id, submit to ``executing {node: null}`` (median of 3).
``restart_recover_s``: a server killed with SIGKILL holding 3 pending prompts; restart to all 3 in history.
With ``--json`` the last line is one JSON object. Goals: ready <= 1.5 s (ComfyUI here: 7-20 s); p99 submit
< 50 ms while busy; chain900 <= 0.25 s (ComfyUI here: 21 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

SLOW = {"1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 2, "color": 0}},
        "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "lanczos",
                                                       "scale_by": 2.0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def small(i: int) -> dict[str, Any]:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": i}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}


def chain(n: int, color: int = 0) -> dict[str, Any]:
    """A fresh chain per color, so no run is a cache hit of the one before."""
    prompt = {"0": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                           "color": color}}}
    for i in range(1, n + 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": [str(n), 0]}}
    return prompt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, database: bool = False) -> None:
        self.tmp, self.port = tmp, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database = database
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> float:
        t0 = time.perf_counter()
        args = [sys.executable, "-m", "host.cli", "serve", "--port", str(self.port), "--output-directory",
                str(self.tmp / "out"), "--temp-directory", str(self.tmp / "temp"), "--user-directory",
                str(self.tmp / "user")]
        self.proc = subprocess.Popen(args + ([] if self.database else ["--memory-only"]),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(self.base + "/prompt") as resp:
                        await resp.read()
                        return time.perf_counter() - t0
                except aiohttp.ClientError:
                    await asyncio.sleep(0.005)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(30)


async def post(session: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(base + "/prompt", json=body) as resp:
        return await resp.json()


async def wait_done(ws: aiohttp.ClientWebSocketResponse, prompt_id: str) -> None:
    async for msg in ws:
        data = json.loads(msg.data)
        if data["type"] == "executing" and data["data"]["node"] is None and data["data"].get("prompt_id") == prompt_id:
            return


async def submit_latency(server: Server) -> tuple[float, float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        client = uuid.uuid4().hex
        async with session.ws_connect(f"{server.base}/ws?clientId={client}") as ws:
            await ws.receive()
            warm_id = (await post(session, server.base, {"prompt": small(0xABCDEF), "client_id": client}))["prompt_id"]
            await wait_done(ws, warm_id)  # a server that has run a prompt (torch loaded), now busy with a slow one
            slow_id = (await post(session, server.base, {"prompt": SLOW, "client_id": client}))["prompt_id"]

            async def one_client(k: int) -> None:
                for i in range(25):
                    t0 = time.perf_counter()
                    await post(session, server.base, {"prompt": small(k * 100 + i)})
                    times.append((time.perf_counter() - t0) * 1e3)

            await asyncio.gather(*(one_client(k) for k in range(8)))
            await wait_done(ws, slow_id)
        async with session.post(server.base + "/queue", json={"clear": True}):
            pass
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


async def fanout(server: Server, clients: int = 50, repeats: int = 5) -> float:
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(f"{server.base}/ws") for _ in range(clients)]
        for ws in sockets:
            await ws.receive()
        results = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            async with session.post(server.base + "/queue", json={"clear": True}):  # broadcasts a status
                pass
            await asyncio.gather(*(ws.receive() for ws in sockets))
            results.append((time.perf_counter() - t0) * 1e3)
        for ws in sockets:
            await ws.close()
    return statistics.median(results)


async def chain900(server: Server, color: int) -> float:
    async with aiohttp.ClientSession() as session:
        client = uuid.uuid4().hex
        async with session.ws_connect(f"{server.base}/ws?clientId={client}") as ws:
            await ws.receive()
            t0 = time.perf_counter()
            body = {"prompt": chain(900, color), "client_id": client}
            prompt_id = (await post(session, server.base, body))["prompt_id"]
            await wait_done(ws, prompt_id)
            return time.perf_counter() - t0


async def restart_recover(tmp: Path) -> float:
    server = Server(tmp / "recover", database=True)
    await server.start()
    async with aiohttp.ClientSession() as session:
        await post(session, server.base, {"prompt": SLOW})
        ids = [(await post(session, server.base, {"prompt": small(i)}))["prompt_id"] for i in range(3)]
    server.stop(signal.SIGKILL)
    t0 = time.perf_counter()
    await server.start()
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(server.base + "/history") as resp:
                history = await resp.json()
            if all(i in history for i in ids):
                break
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    server.stop()
    return elapsed


async def main_async(tmp: Path) -> dict[str, Any]:
    readies = []
    for i in range(3):
        server = Server(tmp / f"ready{i}")
        readies.append(await server.start())
        server.stop()
    server = Server(tmp / "main")
    await server.start()
    try:
        p50, p99 = await submit_latency(server)
        fan = await fanout(server)
        chains = [await chain900(server, color) for color in (1, 2, 3)]
    finally:
        server.stop()
    return {"ready_s": statistics.median(readies), "submit_p50_ms": p50, "submit_p99_ms": p99,
            "ws_fanout_ms": fan, "chain900_s": statistics.median(chains),
            "restart_recover_s": await restart_recover(tmp)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(main_async(Path(tmp)))
    for key, value in figures.items():
        print(f"{key}: {value:.4f}")
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
