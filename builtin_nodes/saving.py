"""What the saving and previewing builtin nodes share: the output paths bound at load made the ambient
``isolate.paths.CURRENT_PATHS`` around a save (the v3 ``ui`` / ``ImageSaveHelper`` helpers write there), and
the node whose hidden prompt / extra_pnginfo go into the file (none with ``--disable-metadata``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from isolate.paths import CURRENT_PATHS, OutputPaths


@contextmanager
def writing_to(paths: OutputPaths) -> Iterator[OutputPaths]:
    """Make ``paths`` the folders the ``ui`` save helpers write into, for the duration of the block."""
    token = CURRENT_PATHS.set(paths)
    try:
        yield paths
    finally:
        CURRENT_PATHS.reset(token)


def metadata_source(cls: Any, paths: OutputPaths) -> Any:
    """The class whose ``hidden`` prompt and extra_pnginfo a save embeds; None when metadata is disabled."""
    return cls if paths.metadata else None


__all__ = ["metadata_source", "writing_to"]
