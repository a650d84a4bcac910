"""Resolving user-supplied file references (``type``, ``subfolder``, ``filename``) against the host's folders.

Every file route goes through :func:`resolve_user_file`: a name that could reach outside its folder is refused
with the status ComfyUI gives (400 for a bad file name or type, 403 for a subfolder or link leading out), before
anything touches the disk. Refused: NUL and control characters, absolute paths, ``..`` components, backslashes,
the same spelled with percent-escapes (``%2e%2e%2f``, also double-encoded), and symlinks resolving outside.
:func:`store_unique` writes an upload under such a name, ComfyUI's way.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote


class PathRefused(ValueError):
    """A reference that must not be served; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _variants(value: str) -> list[str]:
    """``value`` and what it decodes to under repeated percent-decoding (a client or proxy may decode again)."""
    seen = [value]
    for _ in range(3):
        decoded = unquote(seen[-1])
        if decoded == seen[-1]:
            break
        seen.append(decoded)
    return seen


def _bad_chars(value: str) -> bool:
    return any(ord(c) < 0x20 or c == "\x7f" for c in value)


def check_relative(value: str, what: str, status: int = 403) -> list[str]:
    """The components of a relative path that stays inside its folder (``""`` and ``"."`` give ``[]``)."""
    for variant in _variants(value):
        if _bad_chars(variant):
            raise PathRefused(f"{what} contains a control character", 400)
        if "\\" in variant:
            raise PathRefused(f"{what} contains a backslash", status)
        if variant.startswith("/") or os.path.isabs(variant):
            raise PathRefused(f"{what} must be a relative path", status)
        if ".." in PurePosixPath(variant).parts:
            raise PathRefused(f"{what} leads out of its folder", status)
    return [p for p in PurePosixPath(value).parts if p not in ("", ".")]


def check_filename(value: str, what: str = "filename") -> str:
    """A plain file name: no separator, no ``..`` (even inside the name, as ComfyUI refuses it), nothing encoded
    that decodes to those; else 400."""
    if not value:
        raise PathRefused(f"{what} is empty")
    for variant in _variants(value):
        if _bad_chars(variant):
            raise PathRefused(f"{what} contains a control character")
        if "/" in variant or "\\" in variant:
            raise PathRefused(f"{what} must not contain a path separator")
        if ".." in variant or variant == ".":
            raise PathRefused(f"{what} must not contain '..'")
    return value


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` is ``root`` or below it once every symlink is followed."""
    real_root = root.resolve()
    real = path.resolve()
    return real == real_root or real_root in real.parents


def safe_join(root: Path, *parts: str, follow_links: bool = False, status: int = 403) -> Path:
    """``root`` joined with relative ``parts`` (each may hold ``/``), refusing lexical escapes; unless
    ``follow_links``, also refusing a path whose symlinks resolve outside ``root``."""
    components: list[str] = []
    for part in parts:
        components += check_relative(part, "path", status)
    path = root.joinpath(*components)
    if not follow_links and not inside(root, path):
        raise PathRefused("path resolves outside its folder", status)
    return path


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def confine(root: Path, rel: str | None, *, userdata: bool = False, status: int = 403) -> Path:
    """``rel`` inside ``root``, symlinks included, or :class:`PathRefused`.

    ``userdata=False``: the strict rules of :func:`safe_join` (no ``..`` at all, nothing encoded). ``userdata=True``:
    ComfyUI's rules for ``/userdata`` and ``/v2/userdata``: a path still holding ``%`` is decoded once more, ``..``
    is allowed where the normalised path stays inside (``a/../b``), NUL is refused; the result is checked
    lexically and again with every symlink resolved."""
    if not userdata:
        return safe_join(root, rel or "", status=status)
    if not rel:
        return root
    if "%" in rel:
        rel = unquote(rel)
    if "\0" in rel:
        raise PathRefused("path contains NUL", status)
    lexical = os.path.abspath(os.path.join(root, rel))
    if not _within(lexical, os.path.abspath(root)) or not _within(os.path.realpath(lexical), os.path.realpath(root)):
        raise PathRefused("path leads out of its folder", status)
    return Path(lexical)


def resolve_user_file(roots: Mapping[str, Path], type_: str, subfolder: str, filename: str) -> Path:
    """``roots[type_] / subfolder / filename``, or :class:`PathRefused`: 400 for an unknown type or a bad file
    name, 403 for a subfolder (or a symlink on the way) leading outside the type's folder."""
    root = roots.get(type_)
    if root is None:
        raise PathRefused(f"unknown type {type_!r}: expected one of {', '.join(roots)}")
    check_filename(filename)
    folder = safe_join(root, subfolder or "")
    path = folder / filename
    if not inside(root, path):
        raise PathRefused("filename resolves outside its folder", 403)
    return path


def sha256_of(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    for chunk in iter(lambda: source.read(1 << 20), b""):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _same_content(path: Path, source_hash: str) -> bool:
    with open(path, "rb") as existing:
        return sha256_of(existing) == source_hash


def store_unique(roots: Mapping[str, Path], type_: str, subfolder: str, filename: str, source: IO[bytes],
                 overwrite: bool) -> str:
    """Write ``source`` as ``filename`` (ComfyUI's naming: an existing file with the same content is reused,
    else ``name (1).ext``, ``name (2).ext``...); the name used. PathRefused for an escaping name."""
    path = resolve_user_file(roots, type_, subfolder, filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        stem, ext = os.path.splitext(filename)
        source_hash = sha256_of(source)
        counter = 1
        while path.exists():
            if path.is_file() and _same_content(path, source_hash):
                return filename
            filename = f"{stem} ({counter}){ext}"
            path = resolve_user_file(roots, type_, subfolder, filename)
            counter += 1
    source.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(source, out)
    return filename


__all__ = ["PathRefused", "check_filename", "check_relative", "confine", "inside", "resolve_user_file", "safe_join",
           "sha256_of",
           "store_unique"]
