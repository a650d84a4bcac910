"""Where nodes write files, and the ambient value a running node reads it from."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutputPaths:
    """``output_dir`` holds saved results (SaveImage), ``temp_dir`` previews (PreviewImage)."""

    output_dir: Path
    temp_dir: Path


#: Set by the runner around node calls, so ``ui.PreviewImage`` and friends know where to write.
CURRENT_PATHS: ContextVar[OutputPaths | None] = ContextVar("nodehost_output_paths", default=None)


def current_paths() -> OutputPaths:
    paths = CURRENT_PATHS.get()
    if paths is None:
        raise RuntimeError("no output paths: this node must run inside a nodehost runner")
    return paths
