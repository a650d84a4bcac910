"""DiffusersLoader from ComfyUI's ``nodes`` (deprecated there): a diffusers folder in the ``diffusers`` model
folders (any folder holding a ``model_index.json``) loaded as MODEL, CLIP and VAE (``host.models.diffusers_loading``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager


def find_diffusers_models(roots: list[Path]) -> list[str]:
    """The folders holding a ``model_index.json`` under each root, relative to it (the combo; torch-free)."""
    found = []
    for root in roots:
        if root.is_dir():
            for here, _, files in os.walk(root, followlinks=True):
                if "model_index.json" in files:
                    found.append(os.path.relpath(here, root))
    return sorted(found)


class DiffusersLoader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"model_path": (find_diffusers_models(cls.folders.models.paths("diffusers")),)}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"
    CATEGORY = "advanced/loaders/deprecated"

    def load_checkpoint(self, model_path: str) -> tuple[Any, Any, Any]:
        from host.models.diffusers_loading import load_diffusers
        from host.models.manager import ModelFileMissing

        models = manager()
        roots = self.folders.models.paths("diffusers")
        folder = next((r / model_path for r in roots if (r / model_path / "model_index.json").is_file()), None)
        if folder is None:
            raise ModelFileMissing(model_path, f"no diffusers model folder (with model_index.json) in "
                                               f"{', '.join(str(r) for r in roots)}")
        embeddings = self.folders.models.paths("embeddings")
        ckpt = models.cached(("diffusers",), folder / "model_index.json", lambda: load_diffusers(
            folder, device=models.device, dtype_policy=models.dtype_policy, embedding_dirs=embeddings))
        return (ckpt.model, ckpt.clip, ckpt.vae)


V1_DISPLAY_NAMES: dict[str, str] = {}
V1_CLASSES: dict[str, type] = {}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    return {"DiffusersLoader": type("DiffusersLoader", (DiffusersLoader,), {"folders": folders})}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "find_diffusers_models", "loader_classes"]
