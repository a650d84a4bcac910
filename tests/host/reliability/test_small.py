"""Issue 15 item 12: previews follow symlinked model folders like listing does; /view's unreadable-image
error does not show the server's paths."""

from __future__ import annotations

import io
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from host.server.app import ServerConfig, build_app


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


async def test_a_symlinked_model_folder_serves_its_previews(registry, paths, tmp_path: Path) -> None:
    elsewhere = tmp_path / "disk2" / "my-loras"
    elsewhere.mkdir(parents=True)
    (elsewhere / "side.safetensors").write_bytes(b"x")
    (elsewhere / "side.png").write_bytes(png())
    loras = tmp_path / "models" / "loras"
    loras.mkdir(parents=True)
    (loras / "linked").symlink_to(elsewhere, target_is_directory=True)
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, models_dir=tmp_path / "models")
    async with TestClient(TestServer(build_app(registry, config))) as client:
        resp = await client.get("/experiment/models/preview/loras/0/linked/side.safetensors")
        assert resp.status == 200 and resp.content_type == "image/webp"
        assert (await client.get("/experiment/models/preview/loras/0/..%2F..%2Fdisk2/side.safetensors")).status \
            in (400, 403, 404)


async def test_an_unreadable_image_error_hides_the_server_path(registry, paths, tmp_path: Path) -> None:
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    (paths.output_dir / "broken.png").write_bytes(b"not an image at all")
    config = ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir)
    async with TestClient(TestServer(build_app(registry, config))) as client:
        resp = await client.get("/view", params={"filename": "broken.png", "preview": "webp;80"})
        text = await resp.text()
        assert resp.status == 400 and "not a readable image" in text
        assert str(tmp_path) not in text and str(paths.output_dir) not in text
