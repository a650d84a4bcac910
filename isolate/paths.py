"""Where nodes write files, and the ambient value a running node reads it from."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutputPaths:
    """``output_dir`` holds saved results (SaveImage), ``temp_dir`` previews (PreviewImage)."""

    output_dir: Path
    temp_dir: Path
    #: False with ``--disable-metadata``: saved images carry no prompt / workflow text chunks
    metadata: bool = True


#: Set by the runner around node calls, so ``ui.PreviewImage`` and friends know where to write.
CURRENT_PATHS: ContextVar[OutputPaths | None] = ContextVar("nodehost_output_paths", default=None)


def current_paths() -> OutputPaths:
    paths = CURRENT_PATHS.get()
    if paths is None:
        raise RuntimeError("no output paths: this node must run inside a nodehost runner")
    return paths


class PathEscapeError(ValueError):
    """A filename prefix that would write outside its folder."""


def save_image_path(prefix: str, root: Path, width: int, height: int) -> tuple[Path, str, str, int]:
    """(full folder, file stem, subfolder, first counter) for ``prefix`` under ``root``, ComfyUI-style.

    ``%width%``/``%height%`` are substituted; ``a/b`` saves ``b_00001_.png`` in subfolder ``a``; the counter
    continues after the highest existing ``stem_NNNNN_`` file.
    """
    prefix = prefix.replace("%width%", str(width)).replace("%height%", str(height))
    subfolder, stem = os.path.split(os.path.normpath(prefix))
    folder = (root / subfolder).resolve()
    base = root.resolve()
    if folder != base and base not in folder.parents:
        raise PathEscapeError(f"Saving image outside the output folder is not allowed: {prefix!r}")
    if not stem or stem in (".", ".."):
        raise PathEscapeError(f"Invalid filename prefix: {prefix!r}")
    pattern = re.compile(re.escape(stem) + r"_(\d+)_")
    highest = 0
    if folder.is_dir():
        for entry in os.listdir(folder):
            m = pattern.match(entry)
            if m:
                highest = max(highest, int(m.group(1)))
    return folder, stem, os.path.relpath(folder, base) if folder != base else "", highest + 1


def claim_image_name(folder: Path, stem: str, counter: int, ext: str = "png") -> tuple[str, int]:
    """The first ``{stem}_{counter:05}_.{ext}`` from ``counter`` on that no file has, created empty at once
    (exclusively) so that another process saving the same prefix into a shared folder in the same instant moves
    on to the next number instead of writing over it; the caller then writes the image under that name."""
    while True:
        name = f"{stem}_{counter:05}_.{ext}"
        try:
            os.close(os.open(folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return name, counter
        except FileExistsError:
            counter += 1
