"""File and model routes (host/server/routes_files.py) and the path guard (host/server/safe_paths.py): happy paths
with ComfyUI's shapes, and every bad input a clear 4xx with the server healthy after."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, PngImagePlugin
from yarl import URL

from host.registry import Registry
from host.server import routes_files
from host.server.app import ServerConfig, build_app
from host.server.safe_paths import PathRefused, resolve_user_file

pytestmark = pytest.mark.timeout(60)


def config_for(tmp_path: Path, **kw: Any) -> ServerConfig:
    return ServerConfig(output_dir=tmp_path / "output", temp_dir=tmp_path / "temp", input_dir=tmp_path / "input",
                        models_dir=tmp_path / "models", **kw)


async def make_client(registry: Registry, config: ServerConfig, setup: bool = True) -> TestClient:
    app = build_app(registry, config)  # mounts the file routes (and /internal without an /api twin)
    if not setup:
        del app[routes_files.FOLDERS]  # handlers then build the folders per request
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(registry: Registry, tmp_path: Path):
    for name in ("output", "temp", "input"):
        (tmp_path / name).mkdir(exist_ok=True)
    c = await make_client(registry, config_for(tmp_path))
    yield c
    await c.close()


def png_bytes(size: tuple[int, int] = (4, 4), color: tuple[int, ...] = (255, 0, 0, 128), mode: str = "RGBA",
              text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def healthy(client: TestClient) -> None:
    assert (await client.get("/models")).status == 200


# --- safe_paths ---


def test_resolve_user_file(tmp_path: Path) -> None:
    roots = {"output": tmp_path / "out"}
    (tmp_path / "out" / "sub").mkdir(parents=True)
    assert resolve_user_file(roots, "output", "sub", "a.png") == tmp_path / "out" / "sub" / "a.png"
    assert resolve_user_file(roots, "output", "", "a%20b.png") == tmp_path / "out" / "a%20b.png"
    cases = [("input", "", "a.png", 400), ("output", "", "", 400), ("output", "", "../a", 400),
             ("output", "", "/etc/passwd", 400), ("output", "", "..", 400), ("output", "", "%2e%2e%2fa", 400),
             ("output", "", "%252e%252e%252fa", 400), ("output", "", "a\x00.png", 400), ("output", "", "a\\b", 400),
             ("output", "../x", "a.png", 403), ("output", "/etc", "passwd", 403), ("output", "sub/../..", "a", 403),
             ("output", "%2e%2e", "a.png", 403), ("output", "a\x00", "b", 400)]
    for type_, sub, name, status in cases:
        with pytest.raises(PathRefused) as err:
            resolve_user_file(roots, type_, sub, name)
        assert err.value.status == status, (type_, sub, name)
    os.symlink(tmp_path, tmp_path / "out" / "up")
    os.symlink(tmp_path / "elsewhere.png", tmp_path / "out" / "link.png")
    for sub, name in (("up", "x.png"), ("", "link.png")):
        with pytest.raises(PathRefused) as err:
            resolve_user_file(roots, "output", sub, name)
        assert err.value.status == 403


# --- /view ---


async def test_view_serves_files_comfyui_style(client: TestClient, tmp_path: Path) -> None:
    data = png_bytes()
    write(tmp_path / "output" / "a.png", data)
    write(tmp_path / "output" / "sub" / "b.png", data)
    write(tmp_path / "input" / "in.png", data)
    write(tmp_path / "temp" / "t.png", data)
    resp = await client.get("/view", params={"filename": "a.png"})
    assert resp.status == 200 and await resp.read() == data
    assert resp.headers["Content-Disposition"] == 'filename="a.png"' and resp.content_type == "image/png"
    assert (await client.get("/api/view", params={"filename": "b.png", "subfolder": "sub"})).status == 200
    assert (await client.get("/view", params={"filename": "in.png", "type": "input"})).status == 200
    assert (await client.get("/view", params={"filename": "t.png", "type": "temp"})).status == 200
    assert (await client.get("/view", params={"filename": "in.png [input]", "type": "output"})).status == 200
    assert (await client.get("/view", params={"filename": "t.png[temp]"})).status == 200
    write(tmp_path / "output" / "page.html", b"<script>alert(1)</script>")
    resp = await client.get("/view", params={"filename": "page.html"})
    assert resp.status == 200 and resp.content_type == "application/octet-stream"
    write(tmp_path / "output" / 'q"uo.txt', b"t")
    resp = await client.get("/view", params={"filename": 'q"uo.txt'})
    assert resp.headers["Content-Disposition"] == 'filename="q\\"uo.txt"'


async def test_view_previews_and_channels(client: TestClient, tmp_path: Path) -> None:
    write(tmp_path / "output" / "a.png", png_bytes((6, 5), (10, 20, 30, 40)))
    write(tmp_path / "output" / "rgb.png", png_bytes((6, 5), (10, 20, 30), "RGB"))
    resp = await client.get("/view", params={"filename": "a.png", "preview": "webp;50"})
    assert resp.content_type == "image/webp" and resp.headers["Content-Disposition"] == 'filename="a.png"'
    assert Image.open(io.BytesIO(await resp.read())).size == (6, 5)
    resp = await client.get("/view", params={"filename": "a.png", "preview": "jpeg;80"})
    img = Image.open(io.BytesIO(await resp.read()))
    assert resp.content_type == "image/jpeg" and img.format == "JPEG" and img.mode == "RGB"
    resp = await client.get("/view", params={"filename": "a.png", "preview": "gif;x"})
    assert resp.content_type == "image/webp"
    resp = await client.get("/view", params={"filename": "a.png", "preview": "jpeg;80", "channel": "a"})
    assert resp.content_type == "image/webp"  # an alpha channel is never sent as jpeg
    resp = await client.get("/view", params={"filename": "a.png", "channel": "rgb"})
    img = Image.open(io.BytesIO(await resp.read()))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (10, 20, 30)
    resp = await client.get("/view", params={"filename": "a.png", "channel": "a"})
    img = Image.open(io.BytesIO(await resp.read()))
    assert img.mode == "RGBA" and img.getpixel((0, 0)) == (0, 0, 0, 40)
    resp = await client.get("/view", params={"filename": "rgb.png", "channel": "a"})
    assert Image.open(io.BytesIO(await resp.read())).getpixel((0, 0)) == (0, 0, 0, 255)


async def test_view_refuses_bad_references(client: TestClient, tmp_path: Path) -> None:
    write(tmp_path / "secret.txt", b"secret")
    write(tmp_path / "output" / "notimage.txt", b"text")
    (tmp_path / "output" / "dir").mkdir()
    os.symlink(tmp_path, tmp_path / "output" / "up")
    os.symlink(tmp_path / "secret.txt", tmp_path / "output" / "leak.txt")
    cases = [
        ({"filename": "../secret.txt"}, 400), ({"filename": "/etc/passwd"}, 400),
        ({"filename": "up/secret.txt"}, 400), ({"filename": "a\x00.png"}, 400),
        ({"filename": "%2e%2e%2fsecret.txt"}, 400),  # arrives as the literal text: decodes to ../
        ({"filename": "secret.txt", "subfolder": ".."}, 403), ({"filename": "passwd", "subfolder": "/etc"}, 403),
        ({"filename": "secret.txt", "subfolder": "%2e%2e"}, 403), ({"filename": "secret.txt", "subfolder": "up"}, 403),
        ({"filename": "leak.txt"}, 403), ({"filename": "a.png", "type": "models"}, 400),
        ({"filename": "missing.png"}, 404), ({"type": "output"}, 404),
        ({"filename": "up"}, 403), ({"filename": "dir"}, 404),
        ({"filename": "notimage.txt", "preview": "webp;90"}, 400), ({"filename": "notimage.txt", "channel": "a"}, 400),
    ]
    for params, status in cases:
        resp = await client.get("/view", params=params)
        assert resp.status == status, params
        assert b"secret" not in await resp.read()
    for raw in ("/view?filename=%2e%2e%2fsecret.txt", "/view?filename=secret.txt&subfolder=%2E%2E",
                "/view?filename=..%2Fsecret.txt", "/api/view?filename=%252e%252e%252fsecret.txt",
                "/view?filename=a%00.png"):
        resp = await client.get(URL(raw, encoded=True))
        assert resp.status in (400, 403), raw
    await healthy(client)


# --- uploads ---


def form(data: bytes | None, filename: str = "up.png", **fields: str) -> aiohttp.FormData:
    fd = aiohttp.FormData()
    if data is not None:
        fd.add_field("image", data, filename=filename, content_type="image/png")
    for k, v in fields.items():
        fd.add_field(k, v)
    return fd


async def test_upload_image_naming(client: TestClient, tmp_path: Path) -> None:
    one, two = png_bytes(color=(1, 2, 3, 4)), png_bytes(color=(5, 6, 7, 8))
    resp = await client.post("/upload/image", data=form(one))
    assert resp.status == 200 and await resp.json() == {"name": "up.png", "subfolder": "", "type": "input"}
    assert (tmp_path / "input" / "up.png").read_bytes() == one
    assert (await (await client.post("/upload/image", data=form(one))).json())["name"] == "up.png"  # same hash
    assert (await (await client.post("/api/upload/image", data=form(two))).json())["name"] == "up (1).png"
    assert (await (await client.post("/upload/image", data=form(png_bytes((2, 2))))).json())["name"] == "up (2).png"
    assert (await (await client.post("/upload/image", data=form(two))).json())["name"] == "up (1).png"
    resp = await client.post("/upload/image", data=form(two, overwrite="true"))
    assert (await resp.json())["name"] == "up.png" and (tmp_path / "input" / "up.png").read_bytes() == two
    resp = await client.post("/upload/image", data=form(one, type="temp", subfolder="a/b"))
    assert await resp.json() == {"name": "up.png", "subfolder": "a/b", "type": "temp"}
    assert (tmp_path / "temp" / "a" / "b" / "up.png").read_bytes() == one
    resp = await client.post("/upload/image", data=form(one, type="output", overwrite="1"))
    assert (await resp.json())["type"] == "output" and (tmp_path / "output" / "up.png").exists()
    for name in ("ünï cödé.png", "100%.png"):  # sent raw, as browsers do
        fd = aiohttp.FormData(quote_fields=False)
        fd.add_field("image", one, filename=name, content_type="image/png")
        resp = await client.post("/upload/image", data=fd)
        assert (await resp.json())["name"] == name
        resp = await client.get("/view", params={"filename": name, "type": "input"})
        assert resp.status == 200 and await resp.read() == one


async def test_upload_refuses_bad_input(client: TestClient, tmp_path: Path) -> None:
    data = png_bytes()
    cases = [form(None, subfolder="x"), form(data, filename="../evil.png"), form(data, filename="a/b.png"),
             form(data, filename="%2e%2e%2fevil.png"), form(data, subfolder="../.."), form(data, subfolder="/tmp"),
             form(data, subfolder="%2e%2e"), form(data, type="models")]
    for fd in cases:
        assert (await client.post("/upload/image", data=fd)).status == 400
    os.symlink(tmp_path, tmp_path / "input" / "up")
    assert (await client.post("/upload/image", data=form(data, subfolder="up"))).status == 400
    assert (await client.post("/upload/image", json={"image": "x"})).status == 400
    assert (await client.post("/upload/image", data="image=abc")).status == 400  # no file part
    nul_name = (b'--zzz\r\nContent-Disposition: form-data; name="image"; filename*=utf-8\'\'a%00.png\r\n\r\n'
                b"data\r\n--zzz--\r\n")
    boundary = "multipart/form-data; boundary=zzz"
    malformed = ((nul_name, boundary), (b"garbage", boundary), (b"--zzz\r\nbroken", "multipart/form-data"),
                 (b"--zzz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zzz--\r\n", boundary),
                 (b'--zzz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nxx', boundary),
                 (b'--zzz\r\nContent-Disposition: form-data; name="type"\r\n\r\n\xff\r\n--zzz--\r\n', boundary))
    for body, ctype in malformed:
        resp = await client.post("/upload/image", data=body, headers={"Content-Type": ctype})
        assert resp.status == 400, body
    assert not list((tmp_path / "input").glob("*.png")) and not (tmp_path / "evil.png").exists()
    await healthy(client)


async def test_oversize_upload_is_413(registry: Registry, tmp_path: Path) -> None:
    client = await make_client(registry, config_for(tmp_path, max_upload_size_mb=0.05))
    try:
        resp = await client.post("/upload/image", data=form(os.urandom(200_000)))
        assert resp.status == 413
        resp = await client.post("/api/upload/mask", data=form(os.urandom(200_000), original_ref="{}"))
        assert resp.status == 413
        resp = await client.post("/upload/image", data=form(png_bytes()))
        assert resp.status == 200
    finally:
        await client.close()


async def test_upload_mask_applies_alpha_and_keeps_metadata(client: TestClient, tmp_path: Path) -> None:
    write(tmp_path / "output" / "sub" / "orig.png", png_bytes((4, 4), (9, 8, 7), "RGB", {"prompt": "{}", "k": "v"}))
    mask = png_bytes((4, 4), (0, 0, 0, 33))
    ref = json.dumps({"filename": "orig.png", "subfolder": "sub", "type": "output"})
    resp = await client.post("/upload/mask", data=form(mask, filename="clipspace-mask.png", original_ref=ref))
    assert await resp.json() == {"name": "clipspace-mask.png", "subfolder": "", "type": "input"}
    img = Image.open(tmp_path / "input" / "clipspace-mask.png")
    assert img.mode == "RGBA" and img.getpixel((1, 1)) == (9, 8, 7, 33)
    assert img.text == {"prompt": "{}", "k": "v"}
    again = await client.post("/api/upload/mask", data=form(mask, filename="clipspace-mask.png", original_ref=ref))
    assert (await again.json())["name"] == "clipspace-mask.png"  # the same result: reused
    annotated = json.dumps({"filename": "orig.png [output]", "subfolder": "sub"})
    assert (await client.post("/upload/mask", data=form(mask, filename="m2.png", original_ref=annotated))).status == 200


async def test_upload_mask_bad_input(client: TestClient, tmp_path: Path) -> None:
    write(tmp_path / "output" / "orig.png", png_bytes((4, 4)))
    write(tmp_path / "secret.png", png_bytes((4, 4)))
    mask = png_bytes((4, 4))

    def ref(**kw: Any) -> str:
        return json.dumps({"filename": "orig.png", "type": "output"} | kw)

    cases = [(form(mask), 400), (form(mask, original_ref="{not json"), 400), (form(mask, original_ref="[1]"), 400),
             (form(mask, original_ref=ref(filename="../secret.png")), 400),
             (form(mask, original_ref=ref(subfolder="..", filename="secret.png")), 403),
             (form(mask, original_ref=ref(type="bogus")), 400), (form(mask, original_ref=ref(subfolder=5)), 400),
             (form(mask, original_ref=ref(filename="missing.png")), 404),
             (form(png_bytes((3, 3)), original_ref=ref()), 400),  # sizes differ
             (form(b"not an image", original_ref=ref()), 400),
             (form(mask, filename="../x.png", original_ref=ref()), 400), (form(None, original_ref=ref()), 400)]
    for fd, status in cases:
        assert (await client.post("/upload/mask", data=fd)).status == status
    assert not list((tmp_path / "input").iterdir())
    await healthy(client)


# --- model folders ---


def safetensors(header: dict[str, Any] | bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + b"\0" * 16


async def test_view_metadata(client: TestClient, tmp_path: Path) -> None:
    loras = tmp_path / "models" / "loras"
    meta = {"ss_network_dim": "32", "modelspec.title": "x"}
    write(loras / "sub" / "m.safetensors", safetensors({"__metadata__": meta, "w": {"dtype": "F32"}}))
    write(loras / "nometa.safetensors", safetensors({"w": {}}))
    write(loras / "bad.safetensors", safetensors(b"{not json"))
    write(loras / "huge.safetensors", (10**9).to_bytes(8, "little") + b"{}")
    write(loras / "short.safetensors", b"\x01")
    write(tmp_path / "models" / "x.safetensors", safetensors({"__metadata__": {"secret": "1"}}))
    resp = await client.get("/view_metadata/loras", params={"filename": "sub/m.safetensors"})
    assert resp.status == 200 and await resp.json() == meta
    assert (await client.get("/api/view_metadata/loras", params={"filename": "sub/m.safetensors"})).status == 200
    for folder, name, status in (("loras", "nometa.safetensors", 404), ("loras", "bad.safetensors", 404),
                                 ("loras", "huge.safetensors", 404), ("loras", "short.safetensors", 404),
                                 ("loras", "missing.safetensors", 404), ("loras", "sub/m.ckpt", 404),
                                 ("nope", "m.safetensors", 404), ("loras", "../x.safetensors", 400),
                                 ("loras", "/etc/x.safetensors", 400), ("loras", "%2e%2e/x.safetensors", 400)):
        resp = await client.get(f"/view_metadata/{folder}", params={"filename": name})
        assert resp.status == status, name
    assert (await client.get("/view_metadata/loras")).status == 404
    await healthy(client)


async def test_model_listings(client: TestClient, tmp_path: Path) -> None:
    models = tmp_path / "models"
    write(models / "embeddings" / "easyneg.safetensors", b"x")
    write(models / "embeddings" / "sub" / "bad.pt", b"x")
    write(models / "checkpoints" / "sd15.safetensors", b"12345")
    write(models / "checkpoints" / ".hidden.safetensors", b"x")
    write(models / "clip" / "t5.sft", b"x")
    write(models / "text_encoders" / "l.safetensors", b"x")
    write(models / "configs" / "v1.yaml", b"x")
    assert await (await client.get("/embeddings")).json() == ["easyneg", "sub/bad"]
    assert await (await client.get("/api/embeddings")).json() == ["easyneg", "sub/bad"]
    names = await (await client.get("/models")).json()
    assert names[0] == "checkpoints" and "configs" in names and "custom_nodes" in names
    assert await (await client.get("/models/text_encoders")).json() == ["l.safetensors", "t5.sft"]
    assert await (await client.get("/models/clip")).json() == ["l.safetensors", "t5.sft"]
    assert await (await client.get("/models/configs")).json() == ["v1.yaml"]
    assert (await client.get("/models/nope")).status == 404
    folders = await (await client.get("/experiment/models")).json()
    by_name = {f["name"]: f["folders"] for f in folders}
    assert "configs" not in by_name and "custom_nodes" not in by_name
    assert by_name["text_encoders"] == [str(models / "text_encoders"), str(models / "clip")]
    files = await (await client.get("/api/experiment/models/text_encoders")).json()
    assert [(f["name"], f["pathIndex"]) for f in files] == [("l.safetensors", 0), ("t5.sft", 1)]
    ckpt = await (await client.get("/experiment/models/checkpoints")).json()
    assert len(ckpt) == 1 and ckpt[0]["name"] == "sd15.safetensors" and ckpt[0]["size"] == 5
    assert {"modified", "created"} <= set(ckpt[0])
    assert (await client.get("/experiment/models/nope")).status == 404


async def test_internal_routes(client: TestClient, tmp_path: Path) -> None:
    for i, name in enumerate(("old.png", "new.png", "mid.png")):
        os.utime(write(tmp_path / "output" / name, b"x"), (1000 + i * (10 if i < 2 else 5),) * 2)
    write(tmp_path / "output" / ".DS_Store", b"x")
    (tmp_path / "output" / "dir").mkdir()
    assert await (await client.get("/internal/files/output")).json() == ["new.png", "mid.png", "old.png"]
    assert await (await client.get("/internal/files/input")).json() == []
    resp = await client.get("/internal/files/models")
    assert resp.status == 400 and await resp.json() == {"error": "Invalid directory type"}
    assert (await client.get("/internal/files/..%2F..")).status in (400, 404)
    paths = await (await client.get("/internal/folder_paths")).json()
    assert paths["checkpoints"] == [str(tmp_path / "models" / "checkpoints")]
    assert paths["diffusion_models"][0].endswith("unet")


async def test_without_setup_and_with_extra_yaml(registry: Registry, tmp_path: Path) -> None:
    yaml = write(tmp_path / "extra.yaml", b"mine:\n  base_path: store\n  loras: loras\n")
    write(tmp_path / "store" / "loras" / "x.safetensors", b"x")
    client = await make_client(registry, config_for(tmp_path, extra_model_paths=[yaml]), setup=False)
    try:
        assert await (await client.get("/models/loras")).json() == ["x.safetensors"]
        paths = await (await client.get("/internal/folder_paths")).json()
        assert paths["loras"][-1] == str(tmp_path / "store" / "loras")
    finally:
        await client.close()
