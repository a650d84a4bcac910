"""``/experiment/models/preview/{folder}/{path_index}/{filename}``: a model's preview as WebP, from a sidecar
image beside it (``name.webp``, ``.png``, ``.jpg``, ``.jpeg``, ``name.preview.png`` ...) or from the
``ssmd_cover_images`` entry of its safetensors metadata (a JSON list of base64 images).

As in ComfyUI the extension of ``filename`` is dropped and the model's base name is looked up: the frontend asks
for ``name.webp`` whatever the model's own extension and whichever picture lies beside it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
from pathlib import Path

from aiohttp import web

from host.folders import safetensors_metadata
from host.server.routes_files import model_folders
from host.server.safe_paths import PathRefused, check_filename, safe_join

_SIDECARS = tuple(middle + ext for middle in ("", ".preview") for ext in (".webp", ".png", ".jpg", ".jpeg", ".gif"))


def find_preview(stem: Path) -> bytes | None:
    """The preview of the model ``stem`` (its path without extension): a sidecar picture, else the cover image
    of ``stem.safetensors``."""
    for suffix in _SIDECARS:
        sidecar = stem.parent / (stem.name + suffix)
        if sidecar.is_file():
            return sidecar.read_bytes()
    model = stem.parent / (stem.name + ".safetensors")
    if model.is_file():
        covers = (safetensors_metadata(model) or {}).get("ssmd_cover_images")
        try:
            images = json.loads(covers) if isinstance(covers, str) else []
            if images:
                data = str(images[0])
                return base64.b64decode(data.split(",", 1)[1] if data.startswith("data:") else data)
        except (ValueError, binascii.Error, IndexError):
            return None
    return None


def to_webp(data: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format="WEBP", quality=80)
    return out.getvalue()


async def model_preview(request: web.Request) -> web.Response:
    folder = request.match_info["folder"]
    try:
        roots = model_folders(request).paths(folder)
        index = int(request.match_info["path_index"])
    except (KeyError, ValueError):
        return web.Response(status=404)
    if not 0 <= index < len(roots):
        return web.Response(status=404)
    rel = Path(request.match_info["filename"])
    try:  # links inside a configured model folder are followed, as listing and loading follow them
        check_filename(rel.name)
        model = safe_join(roots[index], request.match_info["filename"], follow_links=True)
    except PathRefused as exc:
        return web.Response(status=exc.status)
    data = find_preview(model.with_suffix("")) if model.parent.is_dir() else None
    if data is None:
        return web.Response(status=404)
    try:
        webp = await asyncio.to_thread(to_webp, data)
    except OSError:
        return web.Response(status=404)
    return web.Response(body=webp, content_type="image/webp")


def routes() -> list[web.RouteDef]:
    return [web.get("/experiment/models/preview/{folder}/{path_index}/{filename:.+}", model_preview)]
