"""The web frontend's folder (``--front-end-root``) served as ComfyUI serves its web root: ``/`` answers
``index.html``, and every other GET no route of ours or of a pack claims is a file under the root (ComfyUI's
last route, a static route at ``/``). ``.js`` goes out as JavaScript (some systems map it to ``text/plain``,
which browsers refuse for modules); ``.js``, ``.css`` and ``index*.json`` carry ``Cache-Control: no-cache``.
A path that could leave the root (``..``, encoded or not, a symlink out) is refused by ``safe_paths``."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from host.server.safe_paths import PathRefused, check_relative, safe_join
from host.server.state import STATE

JS_TYPE = "application/javascript; charset=utf-8"
NO_CACHE = {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "0"}


def front_end_root(request: web.Request) -> Path | None:
    root = request.app[STATE].config.extra.get("front_end_root")
    return Path(root) if root else None


def no_cache(name: str) -> bool:
    """ComfyUI's rule: scripts, style sheets and ``index*.json`` (locale and template indexes) revalidate."""
    return name.endswith((".js", ".css")) or (name.startswith("index") and name.endswith(".json"))


def file_headers(path: Path) -> dict[str, str]:
    headers = {"Cache-Control": "no-cache"} if no_cache(path.name) else {}
    if path.suffix in (".js", ".mjs"):
        headers["Content-Type"] = JS_TYPE
    return headers


def find_file(root: Path, raw_path: str, path: str) -> Path:
    """The file under ``root`` that a request path names (``raw_path`` still percent-encoded, ``path`` decoded),
    or :class:`PathRefused` (403 for an escape, 404 for nothing there)."""
    check_relative(raw_path.lstrip("/"), "path")
    found = safe_join(root, path.lstrip("/"))
    if not found.is_file():
        raise PathRefused("no such file", 404)
    return found


async def index(request: web.Request) -> web.StreamResponse:
    root = front_end_root(request)
    if root is not None and (root / "index.html").is_file():
        return web.FileResponse(root / "index.html", headers=NO_CACHE)
    return web.Response(status=404, text="no web frontend installed: start nodehost serve with --front-end-root DIR")


async def static_file(request: web.Request) -> web.StreamResponse:
    """A file of the web root for a GET/HEAD nothing else matched; 404 (or 403 for an escape) otherwise."""
    root = front_end_root(request)
    if root is None or request.method not in ("GET", "HEAD"):
        raise web.HTTPNotFound()
    try:
        path = find_file(root, request.rel_url.raw_path, request.path)
    except PathRefused as exc:
        return web.Response(status=exc.status)
    return web.FileResponse(path, headers=file_headers(path))


__all__ = ["JS_TYPE", "file_headers", "find_file", "index", "no_cache", "static_file"]
