"""The host's model folders: ComfyUI's ``folder_paths`` registry as a plain object built from the server settings.

Each folder name maps to a list of directories and a set of file extensions (empty = every file): the standard
folders under ``models_dir``, then the sections of every ``extra_model_paths.yaml`` (``base_path``, ``is_default``,
folder keys whose values are one path a line or a list; relative paths are taken from ``base_path``, itself
relative to the yaml's folder). The legacy names ``unet`` and ``clip`` mean ``diffusion_models`` and
``text_encoders`` (whose directories include the old ``models/unet`` and ``models/clip``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from host.server.safe_paths import check_relative

log = logging.getLogger("nodehost.folders")

#: ComfyUI's ``supported_pt_extensions``
PT_EXTENSIONS = frozenset({".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"})
LEGACY_NAMES = {"unet": "diffusion_models", "clip": "text_encoders"}
#: the most header bytes read for a safetensors file's metadata, as ComfyUI's /view_metadata
SAFETENSORS_HEADER_LIMIT = 1024 * 1024
#: directory names never descended into
EXCLUDED_DIRS = frozenset({".git"})

# (folder name, its directories under models_dir, extensions), in ComfyUI's order (``/models`` lists it so)
_STANDARD: tuple[tuple[str, tuple[str, ...], frozenset[str]], ...] = (
    ("checkpoints", ("checkpoints",), PT_EXTENSIONS),
    ("configs", ("configs",), frozenset({".yaml"})),
    ("loras", ("loras",), PT_EXTENSIONS),
    ("vae", ("vae",), PT_EXTENSIONS),
    ("text_encoders", ("text_encoders", "clip"), PT_EXTENSIONS),
    ("diffusion_models", ("unet", "diffusion_models"), PT_EXTENSIONS),
    ("clip_vision", ("clip_vision",), PT_EXTENSIONS),
    ("style_models", ("style_models",), PT_EXTENSIONS),
    ("embeddings", ("embeddings",), PT_EXTENSIONS),
    ("diffusers", ("diffusers",), frozenset({"folder"})),  # folders, not files: lists nothing, as ComfyUI
    ("vae_approx", ("vae_approx",), PT_EXTENSIONS),
    ("controlnet", ("controlnet", "t2i_adapter"), PT_EXTENSIONS),
    ("gligen", ("gligen",), PT_EXTENSIONS),
    ("upscale_models", ("upscale_models",), PT_EXTENSIONS),
    ("latent_upscale_models", ("latent_upscale_models",), PT_EXTENSIONS),
    ("custom_nodes", (), frozenset()),  # next to models_dir, not in it
    ("hypernetworks", ("hypernetworks",), PT_EXTENSIONS),
    ("photomaker", ("photomaker",), PT_EXTENSIONS),
    ("classifiers", ("classifiers",), frozenset({""})),  # files without an extension
    ("model_patches", ("model_patches",), PT_EXTENSIONS),
    ("audio_encoders", ("audio_encoders",), PT_EXTENSIONS),
)


class ModelPathSettings(Protocol):
    """What :meth:`ModelFolders.from_config` reads (``host.server.app.ServerConfig`` has both)."""

    models_dir: Path
    extra_model_paths: list[Path]


@dataclass
class ModelFolder:
    paths: list[Path]
    extensions: frozenset[str] = field(default_factory=frozenset)

    def accepts(self, name: str) -> bool:
        return not self.extensions or os.path.splitext(name)[1].lower() in self.extensions


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(path.expanduser().absolute()))


class ModelFolders:
    """Folder name -> directories + extensions. No I/O until asked (except reading the yaml files)."""

    def __init__(self, models_dir: Path, custom_nodes_dir: Path | None = None) -> None:
        models = _absolute(Path(models_dir))
        self._folders: dict[str, ModelFolder] = {}
        for name, subdirs, extensions in _STANDARD:
            paths = [models / d for d in subdirs]
            if name == "custom_nodes":
                paths = [_absolute(custom_nodes_dir) if custom_nodes_dir else models.parent / "custom_nodes"]
            self._folders[name] = ModelFolder(paths, extensions)

    @classmethod
    def from_config(cls, config: ModelPathSettings) -> ModelFolders:
        folders = cls(config.models_dir)
        for yaml_path in config.extra_model_paths or []:
            folders.load_extra_config(Path(yaml_path))
        return folders

    # --- building ---

    def add_path(self, folder: str, path: Path, is_default: bool = False) -> None:
        """Add a directory to ``folder`` (created with every extension allowed if new); ``is_default`` puts it
        first, where new files are looked for first."""
        name = LEGACY_NAMES.get(folder, folder)
        path = _absolute(path)
        entry = self._folders.setdefault(name, ModelFolder([]))
        if path in entry.paths:
            if not is_default or entry.paths[0] == path:
                return
            entry.paths.remove(path)
        if is_default:
            entry.paths.insert(0, path)
        else:
            entry.paths.append(path)

    def load_extra_config(self, config: Path) -> None:
        """Add the model folders of one ``extra_model_paths.yaml``; an unreadable file is logged and skipped."""
        import yaml

        from host.extensions.model_paths import read_sections

        try:
            sections = read_sections(config)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            log.warning("skipping extra model paths %s: %s", config, exc)
            return
        here = _absolute(config).parent
        for section in sections.values():
            base = section.get("base_path")
            base_dir = None
            if isinstance(base, str) and base.strip():
                base_dir = Path(os.path.expandvars(base.strip())).expanduser()
                base_dir = base_dir if base_dir.is_absolute() else here / base_dir
            is_default = bool(section.get("is_default"))
            for key, value in section.items():
                if key in ("base_path", "is_default"):
                    continue
                for entry in _lines(value):
                    path = Path(os.path.expandvars(entry)).expanduser()
                    if not path.is_absolute():
                        path = (base_dir or here) / path
                    self.add_path(str(key), path, is_default)

    # --- queries ---

    def canonical(self, folder: str) -> str | None:
        """The registered name for ``folder`` (legacy aliases mapped), or None when unknown."""
        name = LEGACY_NAMES.get(folder, folder)
        return name if name in self._folders else None

    def __contains__(self, folder: object) -> bool:
        return isinstance(folder, str) and self.canonical(folder) is not None

    def folder_names(self) -> list[str]:
        return list(self._folders)

    def _get(self, folder: str) -> ModelFolder:
        name = self.canonical(folder)
        if name is None:
            raise KeyError(folder)
        return self._folders[name]

    def paths(self, folder: str) -> list[Path]:
        """The directories of ``folder`` (KeyError when unknown)."""
        return list(self._get(folder).paths)

    def extensions(self, folder: str) -> frozenset[str]:
        return self._get(folder).extensions

    def filename_list(self, folder: str) -> list[str]:
        """Every accepted file under the folder's directories, recursively (symlinks followed), as sorted
        ``/``-separated relative paths, each name once."""
        entry = self._get(folder)
        names: set[str] = set()
        for directory in entry.paths:
            names.update(rel for rel, _ in walk_files(directory) if entry.accepts(rel))
        return sorted(names)

    def full_path(self, folder: str, filename: str) -> Path | None:
        """The first existing file ``filename`` (a relative path) in the folder's directories; None when
        unknown or missing; :class:`~host.server.safe_paths.PathRefused` for a name leading out (absolute,
        ``..``, NUL). Symlinks inside model folders are followed, as users link their model stores in."""
        if self.canonical(folder) is None:
            return None
        parts = check_relative(filename, "filename", status=400)
        if not parts:
            return None
        for directory in self._get(folder).paths:
            path = directory.joinpath(*parts)
            if path.is_file():
                return path
        return None

    def file_info(self, folder: str) -> list[dict[str, Any]]:
        """``/experiment/models/{folder}``: ``{name, pathIndex, modified, created, size}`` for each file with a
        model extension (ComfyUI's ``supported_pt_extensions`` whatever the folder's own), hidden ones skipped;
        ``pathIndex`` is the index in :meth:`paths`."""
        files = []
        for index, directory in enumerate(self.paths(folder)):
            for rel, full in walk_files(directory, skip_hidden=True):
                if os.path.splitext(rel)[1].lower() not in PT_EXTENSIONS:
                    continue
                try:
                    st = full.stat()
                except OSError:  # a dangling link
                    continue
                files.append({"name": rel, "pathIndex": index, "modified": st.st_mtime, "created": st.st_ctime,
                              "size": st.st_size})
        return files


def safetensors_metadata(path: Path, limit: int = SAFETENSORS_HEADER_LIMIT) -> dict[str, Any] | None:
    """The ``__metadata__`` of a safetensors file, reading the header only (8-byte little-endian length, then
    JSON); None when absent, malformed or the header is over ``limit`` bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = int.from_bytes(head, "little")
            if len(head) != 8 or size > limit:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else None


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str | Path) and str(v).strip()]
    return []


def walk_files(directory: Path, skip_hidden: bool = False) -> Iterable[tuple[str, Path]]:
    """``(relative posix path, full path)`` of every file under ``directory`` (nothing if it is missing)."""
    if not directory.is_dir():
        return
    real_of: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        real = real_of[dirpath] = os.path.realpath(dirpath)
        parent = os.path.dirname(dirpath)
        while parent in real_of:  # a symlink back to a folder above: a loop
            if real_of[parent] == real:
                dirnames[:], filenames = [], []
                break
            parent = os.path.dirname(parent)
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not (skip_hidden and d[:1] == "."))
        for name in filenames:
            if skip_hidden and name.startswith("."):
                continue
            full = Path(dirpath, name)
            yield full.relative_to(directory).as_posix(), full


__all__ = ["LEGACY_NAMES", "PT_EXTENSIONS", "ModelFolder", "ModelFolders", "safetensors_metadata", "walk_files"]
