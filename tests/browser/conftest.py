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
from collections.abc import Callable, Iterator
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
    "/api/userdata/workflows%2F.index.json": "the workflows sidebar's bookmarks file, absent until one is bookmarked",
    "/favicon.ico": "the frontend package ships no favicon.ico (ComfyUI 404s it too); Chromium asks anyway",
}

#: hosts outside nodehost the page calls by itself; a test machine may be offline
REMOTE_SERVICES = {
    "https://api.comfy.org/": "release notes (GET /releases) and the Comfy account service",
}

#: console errors that are expected and harmless: (text the message starts with, where it comes from, reason).
#: "where" is ``404`` (the message's resource is one of NOT_FOUND_ALLOWED) or ``remote`` (the resource is on
#: one of REMOTE_SERVICES); no message is allowed by its text alone.
LOAD_FAILED = "Failed to load resource: the server responded with a status of "
CONSOLE_ALLOWED = [
    (LOAD_FAILED + "404", "404",
     "Chromium logs every 404; the resource's address must be one of NOT_FOUND_ALLOWED"),
    ("Failed to load resource: net::", "remote",
     "a remote service of REMOTE_SERVICES cannot be reached from an offline test machine"),
]

#: what a browser test seeds in the user's settings: no first-run template browser, no outbound version check,
#: no model-URL probes (ECOSYSTEM B.1)
QUIET_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Notification.ShowVersionUpdates": False,
                  "Comfy.Workflow.ShowMissingModelsWarning": False}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


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


@dataclass
class Served:
    """One ``nodehost serve`` on ``root``; ``restart`` stops it and serves the same folders on the same port."""

    root: Path
    work: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: more ``nodehost serve`` flags (``--watch-packs``)
    flags: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.work / f"serve{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "host.cli", "serve", "--port", str(self.port), "--base-directory",
                 str(self.root), "--memory-only", "--offline", "--envs-dir", str(self.work / "envs"), *self.flags],
                stdout=out, stderr=subprocess.STDOUT)
        _wait_up(self.url, self.process, self.log)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())


def _serve(tmp_path: Path, settings: dict[str, Any] | None, flags: list[str] | None = None,
           prepare: Callable[[Path], None] | None = None) -> Iterator[Served]:
    pytest.importorskip("comfyui_frontend_package")
    root = tmp_path / "comfy"
    root.mkdir()
    if settings is not None:
        user = root / "user" / "default"
        user.mkdir(parents=True)
        (user / "comfy.settings.json").write_text(json.dumps(settings))
    if prepare is not None:
        prepare(root)
    served = Served(root, tmp_path, flags=list(flags or []))
    try:
        served.start()
        yield served
    finally:
        served.stop()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh user folder: the page does what it does on a first run."""
    yield from _serve(tmp_path, None)


@pytest.fixture
def quiet_served(tmp_path: Path) -> Iterator[Served]:
    """The user's settings seeded with QUIET_SETTINGS, as a returning user has them."""
    yield from _serve(tmp_path, dict(QUIET_SETTINGS))


@pytest.fixture
def serve_with(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``serve_with(flags, prepare=None)``: QUIET_SETTINGS and more ``nodehost serve`` flags; ``prepare(root)``
    lays out the folders first (a pack in ``root/custom_nodes``). Stopped at the end of the test."""
    running: list[Iterator[Served]] = []

    def start(flags: list[str], prepare: Callable[[Path], None] | None = None) -> Served:
        running.append(_serve(tmp_path, dict(QUIET_SETTINGS), flags, prepare))
        return next(running[-1])

    try:
        yield start
    finally:
        for gen in running:
            gen.close()


@dataclass
class Console:
    #: (text, address of the resource it is about) of each console error and page error
    messages: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "status path" of the page's failed requests to nodehost
    origin: str = ""

    def _path(self, url: str) -> str:
        return url[len(self.origin):] if self.origin and url.startswith(self.origin) else ""

    def _allowed_404(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "&") for p in NOT_FOUND_ALLOWED)

    def _allowed(self, text: str, url: str) -> bool:
        for start, where, _ in CONSOLE_ALLOWED:
            if not text.startswith(start):
                continue
            if where == "404" and self._allowed_404(self._path(url)):
                return True
            if where == "remote" and any(url.startswith(r) for r in REMOTE_SERVICES):
                return True
        return False

    def unexpected(self, expected: dict[str, str] | None = None) -> list[str]:
        """Messages and failed requests nothing allows; ``expected`` maps the start of a message or of a
        failed request (``"400 /api/prompt"``) a test provokes on purpose to the reason."""
        expected = expected or {}

        def provoked(text: str, url: str) -> bool:  # the message itself, or Chromium's line on a failed request
            return any(text.startswith(e) or text.startswith(f"{LOAD_FAILED}{e.partition(' ')[0]}")
                       and f"{e.partition(' ')[0]} {self._path(url)}".startswith(e) for e in expected)

        left = [f"{text} ({url})" for text, url in self.messages
                if not self._allowed(text, url) and not provoked(text, url)]
        return left + [f for f in self.failed
                       if not (f.startswith("404 ") and self._allowed_404(f[4:]))
                       and not any(f.startswith(e) for e in expected)]


def watch(page: Any, console: Console) -> None:
    """Collect ``page``'s console errors, page errors and failed requests to ``console.origin``."""

    def message(msg: Any) -> None:
        if msg.type == "error":
            console.messages.append((msg.text, (msg.location or {}).get("url", "")))

    def response(resp: Any) -> None:
        if resp.status >= 400 and console.origin and resp.url.startswith(console.origin):
            console.failed.append(f"{resp.status} {resp.url[len(console.origin):]}")

    page.on("console", message)
    page.on("pageerror", lambda exc: console.messages.append((f"pageerror: {exc}", "")))
    page.on("response", response)


def open_app(browser: Any, served: Served, console: Console, shot: Path | None = None) -> Any:
    """A new browser context with the frontend loaded and ready (``window.app`` and its graph up)."""
    console.origin = served.url
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch(page, console)
    page.goto(served.url + "/", wait_until="domcontentloaded")
    wait_ready(page)
    if shot is not None:
        page.screenshot(path=str(shot))
    return page


def wait_ready(page: Any) -> None:
    page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph && window.app.extensionManager",
                           timeout=60_000)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console() -> Console:
    """Console errors and failed requests of the pages a test opens with ``open_page``."""
    return Console()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(served, console, shot=None)``: a new browser context with the app loaded (see open_app);
    closed at the end of the test."""
    pages: list[Any] = []

    def opened(served: Served, console: Console, shot: Path | None = None) -> Any:
        pages.append(open_app(browser, served, console, shot))
        return pages[-1]

    try:
        yield opened
    finally:
        for page in pages:
            page.context.close()


@pytest.fixture
def page(browser: Any, served: Served, tmp_path: Path) -> Iterator[tuple[Any, Console]]:
    """The frontend loaded in a fresh page on a first run, its console errors collected."""
    console = Console()
    page = open_app(browser, served, console, tmp_path / "loaded.png")
    try:
        yield page, console
    finally:
        page.close()
