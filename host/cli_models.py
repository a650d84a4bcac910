"""The folder and model flags ``nodehost run`` and ``serve`` share (ComfyUI's names): ``--base-directory``,
``--input-directory``, ``--preview-method``, the device/VRAM/dtype flags, and what they build: the model
folders (``models/`` under the base directory, its ``extra_model_paths.yaml`` when present, then each
``--extra-model-paths-config``) and the host's one ModelManager."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.models.devices import add_flags

PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Base/input folders, previews and the device flags."""
    group = parser.add_argument_group("folders")
    group.add_argument("--base-directory", default=None, metavar="DIR",
                       help="root of models/, input/, output/, temp/, user/ (default: the working directory)")
    group.add_argument("--input-directory", default=None, metavar="DIR",
                       help="where LoadImage reads and uploads go (default <base-directory>/input)")
    parser.add_argument("--preview-method", choices=PREVIEW_METHODS, default="none",
                        help="latent previews while sampling (default none; auto and taesd: TAESD when "
                             "models/vae_approx has its decoder, else latent2rgb)")
    add_flags(parser)


def base_directory(args: argparse.Namespace) -> Path:
    base = getattr(args, "base_directory", None)
    return Path(base).resolve() if base else Path.cwd().resolve()


def under_base(args: argparse.Namespace, value: str | None, name: str) -> Path:
    """An explicit folder flag, else ``<base-directory>/name``."""
    return Path(value).resolve() if value else base_directory(args) / name


def extra_model_paths(args: argparse.Namespace) -> list[Path]:
    """``<base>/extra_model_paths.yaml`` when it exists (ComfyUI reads the one beside it), then each flag's."""
    found = [base_directory(args) / "extra_model_paths.yaml"]
    configs = [p for p in found if p.is_file()]
    return [*configs, *(Path(p).resolve() for p in getattr(args, "extra_model_paths_config", None) or [])]


@dataclass
class ModelSetup:
    """What the flags built: the node folders and the model manager."""

    folders: Any  # builtin_nodes.NodeFolders
    manager: Any  # host.models.manager.ModelManager


def build_models(args: argparse.Namespace, output_dir: Path, temp_dir: Path) -> ModelSetup:
    from builtin_nodes.node_env import NodeFolders
    from host.folders import ModelFolders
    from host.models.devices import DeviceConfig
    from host.models.manager import ModelManager

    models = ModelFolders(base_directory(args) / "models")
    for config in extra_model_paths(args):
        models.load_extra_config(config)
    folders = NodeFolders(under_base(args, getattr(args, "input_directory", None), "input"), output_dir, temp_dir,
                          models)
    manager = ModelManager(DeviceConfig.from_args(args), models, preview_method=args.preview_method)
    return ModelSetup(folders, manager)


__all__ = ["ModelSetup", "add_model_flags", "base_directory", "build_models", "extra_model_paths", "under_base"]
