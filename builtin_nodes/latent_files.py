"""SaveLatent, LoadLatent and LoadImageOutput from ComfyUI's ``nodes`` (v1 classes).

A ``.latent`` file is what ComfyUI writes: safetensors with ``latent_tensor`` (the LATENT's samples) and an
empty ``latent_format_version_0`` marker; its metadata holds ``prompt`` (JSON, or "" without one) and each
extra_pnginfo key as JSON, unless metadata is disabled. A file without the marker predates it and stored
scaled latents, so LoadLatent multiplies it by 1 / 0.18215. safetensors and torch are imported inside the
bodies.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from builtin_nodes.image_io import LoadImage, _file_hash
from builtin_nodes.node_env import NodeFolders
from isolate.paths import OutputPaths, save_image_path

#: the scale of latents in files without ``latent_format_version_0`` (SD1's latent scale)
LEGACY_LATENT_SCALE = 0.18215


class NotALatentFile(ValueError):
    """A ``.latent`` file without the ``latent_tensor`` key."""


def read_latent(path: Any) -> dict[str, Any]:
    """The LATENT stored in a ``.latent`` file (float32, unscaled)."""
    import safetensors.torch

    tensors = safetensors.torch.load_file(str(path), device="cpu")
    if "latent_tensor" not in tensors:
        raise NotALatentFile(f"{os.path.basename(str(path))} has no latent_tensor: not a latent file")
    multiplier = 1.0 if "latent_format_version_0" in tensors else 1.0 / LEGACY_LATENT_SCALE
    return {"samples": tensors["latent_tensor"].float() * multiplier}


def write_latent(path: Any, samples: Any, metadata: dict[str, str] | None) -> None:
    import safetensors.torch
    import torch

    tensors = {"latent_tensor": samples.detach().cpu().contiguous(), "latent_format_version_0": torch.tensor([])}
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


class SaveLatent:
    """Writes ``{prefix}_{counter:05}_.latent`` into the output folder (``latents/`` by default)."""

    paths: ClassVar[OutputPaths]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"samples": ("LATENT",), "filename_prefix": ("STRING", {"default": "latents/ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = "_for_testing"

    def metadata(self, prompt: Any, extra_pnginfo: dict[str, Any] | None) -> dict[str, str] | None:
        if not self.paths.metadata:
            return None
        meta = {"prompt": json.dumps(prompt) if prompt is not None else ""}
        for key, value in (extra_pnginfo or {}).items():
            meta[key] = json.dumps(value)
        return meta

    def save(self, samples: dict[str, Any], filename_prefix: str = "ComfyUI", prompt: Any = None,
             extra_pnginfo: dict[str, Any] | None = None) -> dict[str, Any]:
        folder, stem, subfolder, counter = save_image_path(filename_prefix, self.paths.output_dir, 0, 0)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{stem}_{counter:05}_.latent"
        write_latent(folder / name, samples["samples"], self.metadata(prompt, extra_pnginfo))
        return {"ui": {"latents": [{"filename": name, "subfolder": subfolder, "type": "output"}]}}


def input_latents(folders: NodeFolders) -> list[str]:
    """The ``.latent`` files directly in the input folder, sorted."""
    try:
        names = os.listdir(folders.input_dir)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(".latent") and (folders.input_dir / n).is_file())


class LoadLatent:
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"latent": (input_latents(cls.folders),)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "load"
    CATEGORY = "_for_testing"

    def load(self, latent: str) -> tuple[dict[str, Any]]:
        return (read_latent(self.folders.annotated(latent)),)

    @classmethod
    def IS_CHANGED(cls, latent: str) -> str:  # noqa: N802
        return _file_hash(cls.folders.annotated(latent))

    @classmethod
    def VALIDATE_INPUTS(cls, latent: str) -> bool | str:  # noqa: N802
        try:
            exists = cls.folders.annotated(latent).is_file()
        except ValueError:
            exists = False
        return True if exists else f"Invalid latent file: {latent}"


class LoadImageOutput(LoadImage):
    """LoadImage over the output folder: the frontend lists it through ``/internal/files/output`` and sends
    ``name [output]``, which resolves there (a plain name is looked up in the input folder, as ComfyUI does)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:  # noqa: N802
        return {"required": {"image": ("COMBO", {
            "image_upload": True, "image_folder": "output",
            "remote": {"route": "/internal/files/output", "refresh_button": True, "control_after_refresh": "first"},
        })}}

    DESCRIPTION = ("Load an image from the output folder. When the refresh button is clicked, the node will update "
                   "the image list and automatically select the first image, allowing for easy iteration.")
    EXPERIMENTAL = True
    FUNCTION = "load_image"


V1_DISPLAY_NAMES = {"LoadImageOutput": "Load Image (from Outputs)"}


def latent_file_classes(paths: OutputPaths, folders: NodeFolders) -> tuple[dict[str, type], dict[str, type]]:
    """(live classes, whose combos list the input folder; static classes), bound to ``paths`` / ``folders``."""
    live = {"LoadLatent": type("LoadLatent", (LoadLatent,), {"folders": folders})}
    static = {"SaveLatent": type("SaveLatent", (SaveLatent,), {"paths": paths}),
              "LoadImageOutput": type("LoadImageOutput", (LoadImageOutput,), {"folders": folders})}
    return live, static
