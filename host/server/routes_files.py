"""Files and model folders (COMPAT §1.2): /view, /upload/image, /upload/mask, /view_metadata, /embeddings,
/models, /experiment/models, and the frontend-only /internal/files and /internal/folder_paths.

Every user-supplied path goes through :mod:`host.server.safe_paths`. The model folders come from
:class:`host.folders.ModelFolders`, built from the app's ServerConfig and cached by :func:`setup`."""

from __future__ import annotations

import asyncio
import io
import json
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from aiohttp import BodyPartReader, web
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from host.folders import ModelFolders, safetensors_metadata
from host.server.safe_paths import PathRefused, resolve_user_file, store_unique
from host.server.state import STATE

TYPES = ("input", "output", "temp")
_ANNOTATIONS = {"[input]": "input", "[output]": "output", "[temp]": "temp"}
_DOWNLOAD_ONLY = {".html", ".htm", ".xhtml", ".js", ".mjs", ".css", ".svg"}
_IMAGE_ERRORS = (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError)


class _FolderCache:
    def __init__(self) -> None:
        self.folders: ModelFolders | None = None


FOLDERS = web.AppKey("nodehost_model_folders", _FolderCache)


def setup(app: web.Application) -> None:
    """Cache the model folders on ``app`` (built on first use); call before the app starts."""
    app[FOLDERS] = _FolderCache()


def model_folders(request: web.Request) -> ModelFolders:
    """The app's model folders: cached when :func:`setup` ran, else built for this request."""
    cache = request.app.get(FOLDERS)
    if cache is None:
        return ModelFolders.from_config(request.app[STATE].config)
    if cache.folders is None:
        cache.folders = ModelFolders.from_config(request.app[STATE].config)
    return cache.folders


def type_roots(request: web.Request) -> dict[str, Path]:
    cfg = request.app[STATE].config
    return {"input": Path(cfg.input_dir), "output": Path(cfg.output_dir), "temp": Path(cfg.temp_dir)}


def split_annotation(name: str) -> tuple[str, str | None]:
    """``"x.png [output]"`` -> ``("x.png", "output")``; an unannotated name -> ``(name, None)``."""
    for suffix, type_ in _ANNOTATIONS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)].rstrip(" "), type_
    return name, None


def _disposition(filename: str) -> dict[str, str]:
    return {"Content-Disposition": 'filename="{}"'.format(filename.replace("\\", "\\\\").replace('"', '\\"'))}


def refused(exc: PathRefused, status: int | None = None) -> web.Response:
    return web.Response(status=status or exc.status, text=str(exc))


# --- /view ---


def _render(path: Path, preview: str | None, channel: str) -> tuple[bytes, str] | None:
    """Re-encoded image bytes and content type, or None to serve the file as it is (``channel`` as given: a
    preview of an explicit ``rgba`` or ``a`` channel is always webp, as ComfyUI)."""
    if preview is None and channel not in ("rgb", "a"):
        return None
    with Image.open(path) as img:
        if preview is not None:
            fmt, *rest = preview.split(";")
            if fmt not in ("webp", "jpeg") or "a" in channel:
                fmt = "webp"
            quality = min(100, int(rest[-1])) if rest and rest[-1].isdigit() else 90
            if fmt == "jpeg" or channel == "rgb" or img.mode not in ("RGB", "RGBA"):
                has_alpha = fmt == "webp" and channel != "rgb" and ("A" in img.getbands() or "transparency" in img.info)
                img = img.convert("RGBA" if has_alpha else "RGB")
            out = io.BytesIO()
            img.save(out, format=fmt, quality=quality)
            return out.getvalue(), f"image/{fmt}"
        if channel == "rgb":
            result = img.convert("RGB")
        else:
            alpha = img.getchannel("A") if "A" in img.getbands() else Image.new("L", img.size, 255)
            result = Image.new("RGBA", img.size)
            result.putalpha(alpha)
        out = io.BytesIO()
        result.save(out, format="PNG")
        return out.getvalue(), "image/png"


async def view(request: web.Request) -> web.StreamResponse:
    query = request.query
    if "filename" not in query:
        return web.Response(status=404)
    filename, annotated = split_annotation(query["filename"])
    try:
        path = resolve_user_file(type_roots(request), annotated or query.get("type", "output"),
                                 query.get("subfolder", ""), filename)
    except PathRefused as exc:
        return refused(exc)
    if not path.is_file():
        return web.Response(status=404, text="no such file")
    try:
        rendered = await asyncio.to_thread(_render, path, query.get("preview"), query.get("channel", ""))
    except _IMAGE_ERRORS as exc:  # the reason without the server's path (issue 15 item 12)
        reason = str(exc).replace(str(path), filename).replace(str(path.parent), "")
        return web.Response(status=400, text=f"not a readable image: {reason}")
    if rendered is not None:
        return web.Response(body=rendered[0], content_type=rendered[1], headers=_disposition(filename))
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if Path(filename).suffix.lower() in _DOWNLOAD_ONLY or content_type in ("text/html", "text/javascript", "text/css"):
        content_type = "application/octet-stream"  # never rendered by the browser on this origin
    return web.FileResponse(path, headers={**_disposition(filename), "Content-Type": content_type})


# --- uploads ---


class Form:
    """A multipart form: text fields and spooled files (first part of each name wins), closed by :meth:`close`.
    Read here rather than by ``request.post()``, which leaks its spool when a body breaks off mid-file."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.files: dict[str, tuple[str, IO[bytes]]] = {}
        self._spools: list[IO[bytes]] = []

    def spool(self) -> IO[bytes]:
        self._spools.append(tempfile.SpooledTemporaryFile(1 << 20))
        return self._spools[-1]

    def close(self) -> None:
        for spool in self._spools:
            spool.close()


async def _read_part(request: web.Request, part: BodyPartReader, sink: IO[bytes] | bytearray) -> None:
    while chunk := await part.read_chunk():
        if 0 < request.client_max_size < request.content.total_bytes:
            raise web.HTTPRequestEntityTooLarge(request.client_max_size, request.content.total_bytes)
        if isinstance(sink, bytearray):
            sink.extend(chunk)
        else:
            sink.write(part.decode(chunk))


async def read_form(request: web.Request) -> Form:
    """The multipart body as a :class:`Form`; ValueError (-> 400) when malformed, 413 past the upload limit."""
    if request.content_type != "multipart/form-data":
        raise ValueError("expected a multipart/form-data body")
    form = Form()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                raise ValueError("a form part without a name, or a nested multipart")
            if part.filename:
                spool = form.spool()
                await _read_part(request, part, spool)
                spool.seek(0)
                form.files.setdefault(part.name, (part.filename, spool))
            else:
                raw = bytearray()
                await _read_part(request, part, raw)
                form.fields.setdefault(part.name, bytes(part.decode(raw)).decode(part.get_charset("utf-8")))
    except (ValueError, LookupError, AssertionError) as exc:
        form.close()
        raise ValueError(f"malformed form data: {exc}") from None
    except BaseException:
        form.close()
        raise
    return form


def _upload_fields(form: Form) -> tuple[str, IO[bytes], str, str, bool]:
    if "image" not in form.files or not form.files["image"][0]:
        raise PathRefused("no image file in the form (field 'image')")
    filename, data = form.files["image"]
    type_, subfolder = form.fields.get("type") or "input", form.fields.get("subfolder") or ""
    return filename, data, type_, subfolder, form.fields.get("overwrite") in ("true", "1")


async def _with_form(request: web.Request, handle: Any) -> web.Response:
    try:
        form = await read_form(request)
    except ValueError as exc:
        return web.Response(status=400, text=str(exc))
    try:
        return await handle(request, form)
    finally:
        form.close()


async def upload_image(request: web.Request) -> web.Response:
    return await _with_form(request, _upload_image)


async def _upload_image(request: web.Request, form: Form) -> web.Response:
    try:
        filename, data, type_, subfolder, overwrite = _upload_fields(form)
        name = await asyncio.to_thread(store_unique, type_roots(request), type_, subfolder, filename, data, overwrite)
    except PathRefused as exc:
        return refused(exc, 400)
    return web.json_response({"name": name, "subfolder": subfolder, "type": type_})


def _masked(original: Path, mask: IO[bytes]) -> io.BytesIO:
    """The original image with the mask's alpha, as PNG, keeping the original's PNG text chunks."""
    with Image.open(original) as img:
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(img, "text", {}).items():
            info.add_text(key, value)
        result = img.convert("RGBA")
    with Image.open(mask) as mask_img:
        result.putalpha(mask_img.convert("RGBA").getchannel("A"))
    out = io.BytesIO()
    result.save(out, format="PNG", compress_level=4, pnginfo=info)
    out.seek(0)
    return out


async def upload_mask(request: web.Request) -> web.Response:
    return await _with_form(request, _upload_mask)


def _original_ref(form: Form, roots: dict[str, Path]) -> Path:
    try:
        ref = json.loads(form.fields.get("original_ref", ""))
    except ValueError:
        ref = None
    if not isinstance(ref, dict) or not isinstance(ref.get("filename"), str):
        raise PathRefused("original_ref must be JSON {filename, subfolder, type}")
    name, annotated = split_annotation(ref["filename"])
    type_, subfolder = annotated or ref.get("type") or "output", ref.get("subfolder") or ""
    if not isinstance(type_, str) or not isinstance(subfolder, str):
        raise PathRefused("original_ref type and subfolder must be strings")
    return resolve_user_file(roots, type_, subfolder, name)


async def _upload_mask(request: web.Request, form: Form) -> web.Response:
    roots = type_roots(request)
    try:
        filename, data, type_, subfolder, overwrite = _upload_fields(form)
        original = _original_ref(form, roots)
    except PathRefused as exc:
        return refused(exc)
    if not original.is_file():
        return web.Response(status=404, text="original_ref names no file")
    try:
        composed = await asyncio.to_thread(_masked, original, data)
        name = await asyncio.to_thread(store_unique, roots, type_, subfolder, filename, composed, overwrite)
    except PathRefused as exc:
        return refused(exc, 400)
    except _IMAGE_ERRORS as exc:
        return web.Response(status=400, text=f"cannot apply the mask: {exc}")
    return web.json_response({"name": name, "subfolder": subfolder, "type": type_})


# --- model folders ---


async def view_metadata(request: web.Request) -> web.Response:
    filename = request.query.get("filename", "")
    if not filename.endswith(".safetensors"):
        return web.Response(status=404)
    try:
        path = model_folders(request).full_path(request.match_info["folder"], filename)
    except PathRefused as exc:
        return refused(exc)
    meta = await asyncio.to_thread(safetensors_metadata, path) if path is not None else None
    return web.json_response(meta) if meta is not None else web.Response(status=404)


async def embeddings(request: web.Request) -> web.Response:
    names = await asyncio.to_thread(model_folders(request).filename_list, "embeddings")
    return web.json_response([os.path.splitext(n)[0] for n in names])


async def list_model_types(request: web.Request) -> web.Response:
    return web.json_response(model_folders(request).folder_names())


async def list_models(request: web.Request) -> web.Response:
    folders, folder = model_folders(request), request.match_info["folder"]
    if folder not in folders:
        return web.Response(status=404)
    return web.json_response(await asyncio.to_thread(folders.filename_list, folder))


async def experiment_models(request: web.Request) -> web.Response:
    folders = model_folders(request)
    return web.json_response([{"name": name, "folders": [str(p) for p in folders.paths(name)]}
                              for name in folders.folder_names() if name not in ("configs", "custom_nodes")])


async def experiment_model_files(request: web.Request) -> web.Response:
    folders, folder = model_folders(request), request.match_info["folder"]
    if folder not in folders:
        return web.Response(status=404)
    return web.json_response(await asyncio.to_thread(folders.file_info, folder))


# --- /internal ---


def _by_mtime(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    entries = [(e.stat().st_mtime, e.name) for e in os.scandir(directory) if e.is_file() and e.name[:1] != "."]
    return [name for _, name in sorted(entries, key=lambda e: -e[0])]


async def internal_files(request: web.Request) -> web.Response:
    type_ = request.match_info["type"]
    if type_ not in TYPES:
        return web.json_response({"error": "Invalid directory type"}, status=400)
    return web.json_response(await asyncio.to_thread(_by_mtime, type_roots(request)[type_]))


async def internal_folder_paths(request: web.Request) -> web.Response:
    folders = model_folders(request)
    return web.json_response({name: [str(p) for p in folders.paths(name)] for name in folders.folder_names()})


def routes() -> list[web.RouteDef]:
    """The file and model routes; app.py registers them bare and under /api."""
    return [
        web.get("/view", view),
        web.post("/upload/image", upload_image), web.post("/upload/mask", upload_mask),
        web.get("/view_metadata/{folder}", view_metadata),
        web.get("/embeddings", embeddings),
        web.get("/models", list_model_types), web.get("/models/{folder}", list_models),
        web.get("/experiment/models", experiment_models),
        web.get("/experiment/models/{folder}", experiment_model_files),
    ]


def internal_routes() -> list[web.RouteDef]:
    """The ``/internal`` routes: mounted as they are, with no ``/api`` twin (as ComfyUI)."""
    return [
        web.get("/internal/files/{type}", internal_files),
        web.get("/internal/folder_paths", internal_folder_paths),
    ]
