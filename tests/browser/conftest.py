"""Browser tests: ``nodehost serve`` in a subprocess with the installed official frontend, driven by Python
playwright through Debian's Chromium (``/usr/bin/chromium``; never a browser playwright downloads). Skipped
when Chromium, playwright or the frontend package is missing. Screenshots go under each test's tmp folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("NODEHOST_CHROMIUM", "/usr/bin/chromium"))

#: 404s the page gets on a fresh user folder; ComfyUI answers each the same way (the file or folder is absent)
NOT_FOUND_ALLOWED = {
    "/user.css": "the user's optional style sheet, absent",
    "/api/userdata/user.css": "the same, looked up in the user folder",
    "/api/userdata?dir=workflows": "no workflow saved yet: ComfyUI answers 404 for a missing folder",
    "/api/userdata?dir=subgraphs": "no subgraph saved yet: ComfyUI answers 404 for a missing folder",
    "/api/userdata/comfy.templates.json": "no legacy node templates saved",
}

#: console messages that are expected and harmless, each with the reason
CONSOLE_ALLOWED = {
    # Chromium logs every 404 without its address; the addresses are checked against NOT_FOUND_ALLOWED
    "Failed to load resource: the server responded with a status of 404": "checked by address (NOT_FOUND_ALLOWED)",
    # the frontend warns when no Comfy account/API key backend answers (API nodes are not provided)
    "api.comfy.org": "the Comfy account service cannot be reached from a test machine",
    "ERR_NAME_NOT_RESOLVED": "remote services (release notes, account) cannot be reached offline",
    "ERR_INTERNET_DISCONNECTED": "remote services cannot be reached offline",
    "Failed to fetch": "remote services (release notes, account) cannot be reached offline",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


@dataclass
class Served:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nodehost serve exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/system_stats", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nodehost serve did not answer: {log.read_text()[-2000:]}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    pytest.importorskip("comfyui_frontend_package")
    root = tmp_path / "comfy"
    root.mkdir()
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--port", str(port),
                                    "--base-directory", str(root), "--memory-only", "--offline",
                                    "--envs-dir", str(tmp_path / "envs")], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, process, log)
        yield Served(url, root, process, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Console:
    messages: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "status path" of the page's failed requests to nodehost

    def unexpected(self) -> list[str]:
        messages = [m for m in self.messages if not any(allowed in m for allowed in CONSOLE_ALLOWED)]
        return messages + [f for f in self.failed
                           if not any(f == f"404 {p}" or f.startswith(f"404 {p}&") for p in NOT_FOUND_ALLOWED)]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, served: Served, tmp_path: Path) -> Iterator[tuple[Any, Console]]:
    """The frontend loaded in a fresh page, its console errors collected."""
    console = Console()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("console", lambda msg: console.messages.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console.messages.append(f"pageerror: {exc}"))

    def response(resp: Any) -> None:
        if resp.status >= 400 and resp.url.startswith(served.url):
            console.failed.append(f"{resp.status} {resp.url[len(served.url):]}")

    page.on("response", response)
    page.goto(served.url + "/", wait_until="domcontentloaded")
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=60_000)
    page.screenshot(path=str(tmp_path / "loaded.png"))
    try:
        yield page, console
    finally:
        page.close()
