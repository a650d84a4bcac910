"""``nodehost serve`` stops promptly with a WebSocket client still connected (its socket is closed on shutdown,
before aiohttp waits for open handlers: it used to take 10-20 s)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

pytestmark = [pytest.mark.timeout(90), pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_stops_fast_with_an_open_websocket(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--port", str(port), "--memory-only",
                                "--base-directory", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/system_stats", timeout=2)
                break
            except OSError:
                await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?clientId=stop")
            await ws.receive()
            start = time.monotonic()
            process.send_signal(signal.SIGINT)
            while process.poll() is None and time.monotonic() - start < 30:
                await asyncio.sleep(0.05)
            took = time.monotonic() - start
            assert process.returncode == 0
            assert took < 4, f"serve took {took:.1f} s to stop"
            assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
