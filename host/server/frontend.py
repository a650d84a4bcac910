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



class FrontendNotFound(LookupError):
    """``--front-end-version`` names a frontend that is not installed (nodehost downloads nothing)."""


def installed_package_dir(module: str, sub: str) -> Path | None:
    """``<module>/<sub>`` of an installed package (the frontend's ``static``, the docs' ``docs``), or None."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    found = Path(spec.origin).parent / sub
    return found if found.is_dir() else None


def default_web_root(version: str | None = None) -> Path | None:
    """The web root of the installed ``comfyui-frontend-package`` (ComfyUI's default frontend). ``version``
    (``--front-end-version owner/repo@X.Y.Z``, ``@latest``) must name the installed one: else FrontendNotFound."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    root = installed_package_dir("comfyui_frontend_package", "static")
    if version is None:
        return root
    wanted = version.rpartition("@")[2].lstrip("v")
    try:
        have = dist_version("comfyui-frontend-package")
    except PackageNotFoundError:
        have = None
    if root is None or have is None:
        raise FrontendNotFound(f"--front-end-version {version}: comfyui-frontend-package is not installed")
    if wanted not in ("latest", "prerelease", have):
        raise FrontendNotFound(f"--front-end-version {version}: nodehost does not download frontends; the "
                               f"installed comfyui-frontend-package is {have} (pip install "
                               f"comfyui-frontend-package=={wanted}, or pass --front-end-root DIR)")
    return root


def templates_dirs() -> list[Path]:
    """The workflow templates of ``comfyui-workflow-templates``: its assets (``index.json``, each template's JSON
    and thumbnails) lie in the ``templates`` folders of its split media packages, one folder per package."""
    import pkgutil

    names = sorted(m.name for m in pkgutil.iter_modules() if m.name.startswith("comfyui_workflow_templates"))
    return [d for name in names for d in [installed_package_dir(name, "templates")] if d is not None]


def docs_dir() -> Path | None:
    """Per-node documentation of ``comfyui-embedded-docs`` (the frontend's node help panel reads /docs)."""
    return installed_package_dir("comfyui_embedded_docs", "docs")


def folder_routes(prefix: str, folders: list[Path]) -> list[web.RouteDef]:
    """``prefix/...`` answered from the first of ``folders`` that holds it, under the web root's rules."""

    async def serve(request: web.Request) -> web.StreamResponse:
        status = 404
        for folder in folders:
            try:
                path = find_file(folder, request.rel_url.raw_path[len(prefix):], request.match_info["path"])
            except PathRefused as exc:
                status = exc.status if exc.status != 404 else status
                continue
            return web.FileResponse(path, headers=file_headers(path))
        return web.Response(status=status)

    return [web.get(prefix + "/{path:.+}", serve)]


def package_routes() -> list[web.RouteDef]:
    """``/templates/...`` and ``/docs/...`` from the installed packages (nothing for one not installed)."""
    docs = docs_dir()
    found = folder_routes("/templates", templates_dirs()) if templates_dirs() else []
    return found + (folder_routes("/docs", [docs]) if docs is not None else [])


__all__ = ["JS_TYPE", "FrontendNotFound", "default_web_root", "docs_dir", "file_headers", "find_file", "index",
           "no_cache",
           "package_routes", "static_file", "templates_dirs"]
