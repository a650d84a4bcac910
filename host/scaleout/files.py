"""Files between the server's folders and a worker's when they do not share a file system: the uploaded inputs
a prompt names go to the worker with the prompt; the images its ``executed`` outputs name come back with those
events (so a client's /view right after ``executed`` finds them), and whatever else it wrote comes back at the
end. Every path is checked to stay inside its folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from host.scaleout.spec import FileBlob
from host.server.safe_paths import PathRefused, check_relative

log = logging.getLogger("nodehost.scaleout")
#: ComfyUI's annotated file names (``name [output]``): which folder a LoadImage-style input reads
SUFFIXES = {" [input]": "input", " [output]": "output", " [temp]": "temp"}


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` when ``relative`` is a safe relative path, else None."""
    try:
        parts = check_relative(relative.replace("\\", "/"), "file", status=400)
    except PathRefused:
        return None
    return root.joinpath(*parts)


def input_files(prompt: dict[str, Any], folders: dict[str, Path]) -> list[FileBlob]:
    """The files a prompt's constant string inputs name in the input folder (or, annotated, in the output or
    temp folder): what LoadImage, LoadImageMask and pack loaders will open on the worker."""
    found: dict[tuple[str, str], FileBlob] = {}
    for node in prompt.values():
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        for value in inputs.values():
            if not isinstance(value, str) or not value or len(value) > 4096:
                continue
            folder, name = "input", value
            for suffix, which in SUFFIXES.items():
                if value.endswith(suffix):
                    folder, name = which, value[: -len(suffix)]
            path = inside(folders[folder], name)
            if path is not None and (folder, name) not in found and path.is_file():
                found[(folder, name)] = FileBlob(folder, name, path.read_bytes())
    return list(found.values())


def write_files(files: list[FileBlob], folders: dict[str, Path]) -> list[Path]:
    """Write shipped files into ``folders`` (refusing any path that leaves its folder); the paths written."""
    written = []
    for blob in files:
        root = folders.get(blob.folder)
        path = inside(root, blob.path) if root is not None else None
        if path is None:
            log.warning("refused a shipped file outside its folder: %s/%s", blob.folder, blob.path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob.data)
        written.append(path)
    return written


def named_outputs(output: dict[str, Any] | None, folders: dict[str, Path]) -> list[FileBlob]:
    """The files an ``executed`` ui output names (``{"images": [{"filename", "subfolder", "type"}]}`` and the
    other media lists), read from the worker's output and temp folders."""
    blobs = []
    for entries in (output or {}).values():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("type") not in ("output", "temp"):
                continue
            name = entry.get("filename")
            if not isinstance(name, str):
                continue
            relative = f"{entry.get('subfolder') or ''}/{name}".lstrip("/")
            path = inside(folders[entry["type"]], relative)
            if path is not None and path.is_file():
                blobs.append(FileBlob(entry["type"], relative, path.read_bytes()))
    return blobs


class Snapshot:
    """The files under a worker's output and temp folders (path -> (mtime, size)), to find what a prompt
    wrote besides what its outputs named."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = {k: folders[k] for k in ("output", "temp")}
        self.seen = {k: listing(v) for k, v in self.folders.items()}

    def changed(self, shipped: set[tuple[str, str]]) -> list[FileBlob]:
        blobs = []
        for folder, root in self.folders.items():
            before = self.seen[folder]
            for relative, stamp in listing(root).items():
                if before.get(relative) != stamp and (folder, relative) not in shipped:
                    blobs.append(FileBlob(folder, relative, (root / relative).read_bytes()))
        return blobs


def listing(root: Path) -> dict[str, tuple[int, int]]:
    if not root.is_dir():
        return {}
    out = {}
    for path in root.rglob("*"):
        if path.is_file():
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_size)
    return out


__all__ = ["Snapshot", "input_files", "inside", "named_outputs", "write_files"]
