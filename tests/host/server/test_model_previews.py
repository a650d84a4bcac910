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
