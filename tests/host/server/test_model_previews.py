"""/experiment/models/preview: sidecar images and safetensors cover images, as WebP."""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from host.server.app import ServerConfig, build_app


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, format="PNG")
    return out.getvalue()


def safetensors_with_cover(path: Path, image: bytes) -> None:
    header = json.dumps({"__metadata__": {"ssmd_cover_images": json.dumps(
        ["data:image/png;base64," + base64.b64encode(image).decode()])}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


async def test_previews(registry, paths, tmp_path: Path) -> None:
    loras = tmp_path / "models" / "loras"
    loras.mkdir(parents=True)
    (loras / "side.safetensors").write_bytes(b"x")
    (loras / "side.png").write_bytes(png("red"))
    safetensors_with_cover(loras / "cover.safetensors", png("blue"))
    (loras / "none.safetensors").write_bytes(b"x")
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, models_dir=tmp_path / "models")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        for name, color in (("side", (255, 0, 0)), ("cover", (0, 0, 255))):
            resp = await client.get(f"/experiment/models/preview/loras/0/{name}.safetensors")
            assert resp.status == 200 and resp.content_type == "image/webp"
            pixel = Image.open(io.BytesIO(await resp.read())).convert("RGB").getpixel((1, 1))
            assert all(abs(a - b) < 20 for a, b in zip(pixel, color, strict=True))
        assert (await client.get("/api/experiment/models/preview/loras/0/none.safetensors")).status == 404
        assert (await client.get("/experiment/models/preview/loras/5/side.safetensors")).status == 404
        assert (await client.get("/experiment/models/preview/nope/0/side.safetensors")).status == 404
        assert (await client.get("/experiment/models/preview/loras/0/..%2F..%2Fsecret")).status in (400, 403, 404)


async def test_preview_asked_by_base_name_as_the_frontend_asks(registry, paths, tmp_path: Path) -> None:
    """The frontend's model library asks for ``<model name without extension>.webp`` whatever picture lies beside
    the model; ComfyUI drops the extension and looks the base name up, and so does nodehost."""
    checkpoints = tmp_path / "models" / "checkpoints"
    (checkpoints / "sub").mkdir(parents=True)
    (checkpoints / "side.v1.ckpt").write_bytes(b"x")
    (checkpoints / "side.v1.png").write_bytes(png("red"))
    (checkpoints / "sub" / "marked.safetensors").write_bytes(b"x")
    (checkpoints / "sub" / "marked.preview.jpeg").write_bytes(png("lime"))  # any picture format, named .jpeg
    safetensors_with_cover(checkpoints / "cover.safetensors", png("blue"))
    (checkpoints / "none.safetensors").write_bytes(b"x")
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, models_dir=tmp_path / "models")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        for name, color in (("side.v1.webp", (255, 0, 0)), ("sub/marked.webp", (0, 255, 0)),
                            ("cover.webp", (0, 0, 255)), ("side.v1.ckpt", (255, 0, 0))):
            resp = await client.get(f"/api/experiment/models/preview/checkpoints/0/{name}")
            assert resp.status == 200 and resp.content_type == "image/webp", name
            pixel = Image.open(io.BytesIO(await resp.read())).convert("RGB").getpixel((1, 1))
            assert all(abs(a - b) < 20 for a, b in zip(pixel, color, strict=True)), (name, pixel)
        for name in ("none.webp", "absent.webp", "nodir/absent.webp"):
            assert (await client.get(f"/api/experiment/models/preview/checkpoints/0/{name}")).status == 404, name
