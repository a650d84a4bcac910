"""Output files landing in the server's folders from a worker that does not share them.

Each worker numbers what it saves against its own folder (the ``prefix_00001_.png`` counter of SaveImage and
the other savers), so two workers saving under one prefix would pick the same name, and the second file would
replace the first under both prompts' histories. The server numbers each file it lands against its own folder
instead, as one machine would have (one past the highest counter there, created exclusively, so two landing at
once never share a name), and gives the prompt's ``executed`` events and history the name it chose. A file a
worker ships again unchanged (a cached output node's ``executed`` names the file it saved before) lands once.
Names without a counter are written over, as on one machine."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

from host.scaleout.files import inside
from host.scaleout.spec import FileBlob

log = logging.getLogger("nodehost.scaleout")
#: ``{stem}_{counter}`` then ``_`` or the extension (``x_00001_.png``, ``clip_00002.mp4``)
COUNTED = re.compile(r"^(?P<stem>.+)_(?P<n>\d{5,})(?P<tail>[_.][^/]*)$")
#: landed names remembered per worker (a cached node's file older than that lands again, under a new name)
REMEMBERED = 10_000


def highest(folder: Path, stem: str) -> int:
    """The highest counter of ``{stem}_{counter}_...`` / ``{stem}_{counter}.ext`` files in ``folder``."""
    pattern = re.compile(re.escape(stem) + r"_(\d+)[_.]")
    best = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            m = pattern.match(entry.name)
            if m:
                best = max(best, int(m.group(1)))
    return best


def place(root: Path, relative: str, data: bytes) -> str:
    """Write ``data`` as ``relative`` under ``root`` (a safe relative path), renumbered after the highest counter
    there when its name has one; the relative path written."""
    sub, _, name = relative.rpartition("/")
    folder = root / sub if sub else root
    folder.mkdir(parents=True, exist_ok=True)
    m = COUNTED.match(name)
    if m is None:
        (folder / name).write_bytes(data)
        return relative
    stem, tail = m["stem"], m["tail"]
    while True:  # another file taking the number first raises: the next one is tried
        chosen = f"{stem}_{highest(folder, stem) + 1:05}{tail}"
        try:
            with open(folder / chosen, "xb") as f:
                f.write(data)
        except FileExistsError:
            continue
        return f"{sub}/{chosen}" if sub else chosen


class Landing:
    """One worker's files landing in the server's ``output`` and ``temp`` folders (see the module docstring)."""

    def __init__(self, folders: dict[str, Path]) -> None:
        self.folders = folders
        #: (worker session, folder, path on the worker) -> (path on the server, digest of the bytes)
        self.names: dict[tuple[str, str, str], tuple[str, bytes]] = {}

    def land(self, files: list[FileBlob], session: str) -> None:
        """Write ``files`` (shipped by the worker process ``session``) into the server's folders."""
        for blob in files:
            self._land(blob, session)

    def _land(self, blob: FileBlob, session: str) -> None:
        root = self.folders.get(blob.folder)
        if root is None or inside(root, blob.path) is None:
            log.warning("refused a shipped file outside its folder: %s/%s", blob.folder, blob.path)
            return
        key = (session, blob.folder, blob.path)
        digest = hashlib.blake2b(blob.data, digest_size=16).digest()
        known = self.names.pop(key, None)
        if known is not None and known[1] == digest and (root / known[0]).is_file():
            self.names[key] = known  # shipped again unchanged: already here
            return
        self.names[key] = (place(root, blob.path, blob.data), digest)
        if len(self.names) > REMEMBERED:
            del self.names[next(iter(self.names))]

    def rename(self, output: dict[str, Any] | None, session: str) -> dict[str, Any] | None:
        """An ``executed`` ui output (``{"images": [{"filename", "subfolder", "type"}]}``...) with the names the
        server gave the files it names."""
        if not output or not self.names:
            return output
        return {key: [self._renamed(e, session) for e in entries] if isinstance(entries, list) else entries
                for key, entries in output.items()}

    def _renamed(self, entry: Any, session: str) -> Any:
        if not isinstance(entry, dict) or entry.get("type") not in ("output", "temp"):
            return entry
        name = entry.get("filename")
        if not isinstance(name, str):
            return entry
        relative = f"{entry.get('subfolder') or ''}/{name}".lstrip("/")
        known = self.names.get((session, entry["type"], relative))
        if known is None or known[0] == relative:
            return entry
        sub, _, chosen = known[0].rpartition("/")
        return entry | {"filename": chosen, "subfolder": sub}

    def rename_outputs(self, outputs: dict[str, Any], session: str) -> dict[str, Any]:
        """A history's outputs (node id -> ui output) with the server's names."""
        return {node: self.rename(ui, session) if isinstance(ui, dict) else ui for node, ui in outputs.items()}


__all__ = ["COUNTED", "Landing", "highest", "place"]
