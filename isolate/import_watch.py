"""What a pack tried to import and did not get, recorded in its child while it loads.

Packs often catch their own ImportErrors and fail later with an unrelated error (a NameError at the end of
``__init__``), which hides the cause. A finder placed last on ``sys.meta_path`` is asked only after every real
finder failed, so it sees each module that could not be found, caught or not; it finds nothing itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from typing import Any

#: top-level modules that ComfyUI itself provides (a pack gets them from the host, not from its venv)
HOST_MODULES = {"comfy", "comfy_extras", "comfy_execution", "comfy_api", "comfy_api_nodes", "comfy_config",
                "nodes", "latent_preview", "execution", "server", "folder_paths", "node_helpers", "app", "main",
                "cuda_malloc", "protocol", "comfyui_version", "new_updater"}
#: shared from the host's torch, never installed into a pack
TORCH_FAMILY = {"torch", "torchvision", "torchaudio", "triton"}


class MissFinder:
    """A meta-path finder that records the modules nobody could find (in order, once each)."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name not in self.missed:
            self.missed.append(name)
        return None

    def host_misses(self) -> list[str]:
        return [m for m in self.missed if m.split(".")[0] in HOST_MODULES]

    def torch_family_misses(self) -> list[str]:
        return [m for m in self.missed if m.split(".")[0] in TORCH_FAMILY and m.split(".")[0] == m]

    def relevant(self) -> list[str]:
        return self.host_misses() + self.torch_family_misses()

    def report(self) -> str:
        """Lines for a failure report ('' when nothing relevant was missed)."""
        return "\n".join(describe_missing(self.relevant()))


def describe_missing(names: list[str]) -> list[str]:
    """``tried comfy.sd: not provided by nodehost``, one line per missed module; for torchvision / torchaudio
    the command that adds the build matching the host's torch."""
    return [f"tried {m}: the host has no {m} (shared from the host's torch, never installed into a pack)"
            + _fix(m) if m in TORCH_FAMILY else f"tried {m}: not provided by nodehost" for m in names]


def _fix(module: str) -> str:
    if module not in ("torchvision", "torchaudio"):
        return ""
    from importlib import metadata

    from isolate.venv import matching_build

    try:
        return f"; add it to the host with: {matching_build(module, metadata.version('torch'))}"
    except (metadata.PackageNotFoundError, ValueError):
        return ""


@contextmanager
def watching() -> Iterator[MissFinder]:
    """Record missed imports while the block runs (the finder is removed afterwards)."""
    finder = MissFinder()
    sys.meta_path.append(finder)
    try:
        yield finder
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
