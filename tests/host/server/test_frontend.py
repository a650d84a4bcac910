"""The web root (``--front-end-root``) served whole, as ComfyUI's last static route: a small built page with its
assets, JavaScript typed and not cached, pack and API routes still first, escapes refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from host.registry import Registry
from host.server.app import ServerConfig, build_app
from host.server.frontend import JS_TYPE

pytestmark = pytest.mark.timeout(60)


def built_page(root: Path) -> Path:
    """What a frontend build looks like: index.html, hashed assets, fonts, a style sheet, core extensions."""
    (root / "assets" / "fonts").mkdir(parents=True)
    (root / "extensions" / "core").mkdir(parents=True)
    (root / "index.html").write_text('<script type="module" src="./assets/index-abc.js"></script>')
    (root / "assets" / "index-abc.js").write_text("export const app = 1;")
    (root / "assets" / "fonts" / "icons.woff2").write_bytes(b"wOF2\0\0")
    (root / "assets" / "index-en.json").write_text("{}")
    (root / "assets" / "other.json").write_text("{}")
    (root / "materialdesignicons.min.css").write_text(".mdi{}")
    (root / "extensions" / "core" / "widgets.js").write_text("// core")
    return root


def app_for(root: Path) -> object:
    return build_app(Registry().freeze(), ServerConfig(extra={"front_end_root": str(root)}))


async def test_the_whole_web_root_is_served(tmp_path: Path) -> None:
    root = built_page(tmp_path / "web")
    async with TestClient(TestServer(app_for(root))) as client:
        page = await client.get("/")
        assert page.status == 200 and "index-abc.js" in await page.text()
        js = await client.get("/assets/index-abc.js")
        assert js.status == 200 and await js.text() == "export const app = 1;"
        assert js.headers["Content-Type"] == JS_TYPE and js.headers["Cache-Control"] == "no-cache"
        css = await client.get("/materialdesignicons.min.css")
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
        assert css.headers["Cache-Control"] == "no-cache"
        font = await client.get("/assets/fonts/icons.woff2")
        assert font.status == 200 and await font.read() == b"wOF2\0\0" and "Cache-Control" not in font.headers
        assert (await client.get("/assets/index-en.json")).headers["Cache-Control"] == "no-cache"
        assert "Cache-Control" not in (await client.get("/assets/other.json")).headers
        core = await client.get("/extensions/core/widgets.js")
        assert core.status == 200 and core.headers["Content-Type"] == JS_TYPE
        assert (await client.head("/assets/index-abc.js")).status == 200
        assert (await client.get("/assets/missing.js")).status == 404
        assert (await client.get("/assets")).status == 404  # a folder is not listed
        prompt = await client.get("/prompt")  # the API is not shadowed by the web root
        assert prompt.status == 200 and "exec_info" in await prompt.json()
        assert (await client.post("/assets/index-abc.js")).status in (404, 405)


@pytest.mark.parametrize("raw", ["/assets/../../secret.txt", "/%2e%2e/secret.txt",
                                 "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
                                 "/%252e%252e/secret.txt", "/extensions/core/..%2f..%2f..%2fsecret.txt",
                                 "/assets%5c..%5c..%5csecret.txt", "/out/secret.txt"])
async def test_escapes_from_the_web_root_are_refused(tmp_path: Path, raw: str) -> None:
    root = built_page(tmp_path / "web")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path, root / "out")
    async with TestClient(TestServer(app_for(root))) as client:
        resp = await client.get(URL(raw, encoded=True))
        assert resp.status in (400, 403, 404)
        assert "secret" != await resp.text()


async def test_without_a_web_root_unknown_paths_are_404(tmp_path: Path) -> None:
    async with TestClient(TestServer(build_app(Registry().freeze(), ServerConfig()))) as client:
        assert (await client.get("/")).status == 404
        assert (await client.get("/assets/index-abc.js")).status == 404


async def test_templates_and_docs_come_from_their_packages(tmp_path: Path) -> None:
    pytest.importorskip("comfyui_workflow_templates")
    pytest.importorskip("comfyui_embedded_docs")
    async with TestClient(TestServer(build_app(Registry().freeze(), ServerConfig()))) as client:
        index = await client.get("/templates/index.json")
        assert index.status == 200 and index.headers["Cache-Control"] == "no-cache"
        first = (await index.json())[0]["templates"][0]["name"]
        assert (await client.get(f"/templates/{first}.json")).status == 200
        assert (await client.get("/templates/..%2f..%2fcomfyui_frontend_package/static/index.html")).status in (
            400, 403, 404)
        doc = await client.get("/docs/KSampler/en.md")
        assert doc.status == 200 and "KSampler" in await doc.text()
        assert (await client.get("/docs/nope/en.md")).status == 404


def test_the_installed_frontend_is_the_default_root() -> None:
    pytest.importorskip("comfyui_frontend_package")
    from host.server.frontend import default_web_root

    root = default_web_root()
    assert root is not None and (root / "index.html").is_file() and (root / "assets").is_dir()
