"""ComfyUI's ``folder_paths`` for node packs: the input/output/temp/user folders and the model folders.

The configuration comes from the child's services (``isolate.child_services``: the ``NODEHOST_FOLDERS`` the
host sets, else ComfyUI's layout under the working directory). ``folder_names_and_paths`` is the services' dict
itself, so what a pack registers here (``add_model_folder_path`` or writing to the dict) is what the child
reports to the host. Unlike ComfyUI, importing this module creates no folder, and a file name that would lead
outside its folder (``../x``, an absolute path) is refused rather than joined.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import time
from collections.abc import Collection
from pathlib import Path
from typing import Literal

from isolate.child_services import services as _services
from isolate.paths import PathEscapeError, save_image_path

log = logging.getLogger(__name__)

_svc = _services()

supported_pt_extensions: set[str] = _svc.supported_pt_extensions
folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = _svc.folder_names_and_paths
base_path: str = _svc.base_path
models_dir: str = _svc.models_dir
output_directory: str = _svc.output_directory
temp_directory: str = _svc.temp_directory
input_directory: str = _svc.input_directory
user_directory: str = _svc.user_directory

#: folder name -> (sorted file list, {scanned folder: mtime}, time of the scan)
filename_list_cache: dict[str, tuple[list[str], dict[str, float], float]] = {}
extension_mimetypes_cache: dict[str, str] = {"webp": "image", "fbx": "model"}
SYSTEM_USER_PREFIX = "__"

_LEGACY = {"unet": "diffusion_models", "clip": "text_encoders"}


class CacheHelper:
    """Within ``with cache_helper:`` file lists are trusted without checking folder times (one scan per block)."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[list[str], dict[str, float], float]] = {}
        self.active = False

    def get(self, key: str, default=None):
        return self.cache.get(key, default) if self.active else default

    def set(self, key: str, value: tuple[list[str], dict[str, float], float]) -> None:
        if self.active:
            self.cache[key] = value

    def clear(self) -> None:
        self.cache.clear()

    def __enter__(self) -> CacheHelper:
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False
        self.clear()


cache_helper = CacheHelper()


def map_legacy(folder_name: str) -> str:
    """Old folder names: ``unet`` is ``diffusion_models``, ``clip`` is ``text_encoders``."""
    return _LEGACY.get(folder_name, folder_name)


# -- the four data folders ---------------------------------------------------------------------------------
def set_output_directory(output_dir: str) -> None:
    global output_directory
    output_directory = _svc.output_directory = output_dir


def set_temp_directory(temp_dir: str) -> None:
    global temp_directory
    temp_directory = _svc.temp_directory = temp_dir


def set_input_directory(input_dir: str) -> None:
    global input_directory
    input_directory = _svc.input_directory = input_dir


def set_user_directory(user_dir: str) -> None:
    global user_directory
    user_directory = _svc.user_directory = user_dir


def get_output_directory() -> str:
    return output_directory


def get_temp_directory() -> str:
    return temp_directory


def get_input_directory() -> str:
    return input_directory


def get_user_directory() -> str:
    return user_directory


def get_system_user_directory(name: str = "system") -> str:
    """``user/__<name>``: internal data no HTTP endpoint serves."""
    if not name or not isinstance(name, str):
        raise ValueError("System user name cannot be empty")
    if not name.replace("_", "").isalnum() or name.startswith("_"):
        raise ValueError(f"Invalid system user name: {name!r}")
    return os.path.join(get_user_directory(), SYSTEM_USER_PREFIX + name)


def get_public_user_directory(user_id: str) -> str | None:
    """``user/<user_id>``, or None for an empty id or a system user (``__`` prefix)."""
    if not user_id or not isinstance(user_id, str) or user_id.startswith(SYSTEM_USER_PREFIX):
        return None
    return os.path.join(get_user_directory(), user_id)


def get_directory_by_type(type_name: str) -> str | None:
    return {"output": get_output_directory, "temp": get_temp_directory,
            "input": get_input_directory}.get(type_name, lambda: None)()


def get_input_subfolders() -> list[str]:
    """Every folder below the input folder, relative and with ``/`` separators, sorted."""
    root = get_input_directory()
    if not os.path.isdir(root):
        return []
    found = []
    for dirpath, _dirs, _files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def filter_files_content_types(files: list[str],
                               content_types: list[Literal["image", "video", "audio", "model"]]) -> list[str]:
    """The files whose MIME main type (from the extension) is one of ``content_types``."""
    out = []
    for name in files:
        ext = name.rsplit(".", 1)[-1]
        kind = extension_mimetypes_cache.get(ext)
        if kind is None:
            mime, _ = mimetypes.guess_type(name, strict=False)
            if not mime:
                continue
            kind = extension_mimetypes_cache[ext] = mime.split("/")[0]
        if kind in content_types:
            out.append(name)
    return out


# -- paths inside a folder ---------------------------------------------------------------------------------
def _inside(folder: str, name: str) -> str | None:
    """``folder/name`` normalised, or None when it would lead outside ``folder``."""
    base = os.path.abspath(folder)
    full = os.path.normpath(os.path.join(base, name))
    return full if full == base or full.startswith(base.rstrip(os.sep) + os.sep) else None


def annotated_filepath(name: str) -> tuple[str, str | None]:
    """``"x.png [output]"`` -> ``("x.png", output folder)``; without an annotation the folder is None."""
    for tag, get in (("[output]", get_output_directory), ("[input]", get_input_directory),
                     ("[temp]", get_temp_directory)):
        if name.endswith(tag):
            stripped = name[:-len(tag)]
            return (stripped[:-1] if stripped.endswith(" ") else stripped), get()
    return name, None


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    """The full path of an annotated name (default folder: ``default_dir``, else input); refuses escapes."""
    name, base_dir = annotated_filepath(name)
    base_dir = base_dir or default_dir or get_input_directory()
    full = _inside(base_dir, name)
    if full is None:
        raise PathEscapeError(f"{name!r} is outside {base_dir!r}")
    return full


def exists_annotated_filepath(name: str) -> bool:
    name, base_dir = annotated_filepath(name)
    full = _inside(base_dir or get_input_directory(), name)
    return full is not None and os.path.exists(full)


# -- model folders -----------------------------------------------------------------------------------------
def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
    """Add a folder to ``folder_name`` (created with no extension filter if new); ``is_default`` puts it first."""
    folder_name = map_legacy(folder_name)
    entry = folder_names_and_paths.get(folder_name)
    if entry is None:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())
        return
    paths = entry[0]
    if full_folder_path in paths:
        if is_default and paths[0] != full_folder_path:
            paths.remove(full_folder_path)
            paths.insert(0, full_folder_path)
    elif is_default:
        paths.insert(0, full_folder_path)
    else:
        paths.append(full_folder_path)


def get_folder_paths(folder_name: str) -> list[str]:
    return list(folder_names_and_paths[map_legacy(folder_name)][0])


def recursive_search(directory: str, excluded_dir_names: list[str] | None = None) -> tuple[list[str],
                                                                                            dict[str, float]]:
    """(every file below ``directory``, relative; {each folder scanned: its mtime}); follows links once."""
    if not os.path.isdir(directory):
        return [], {}
    excluded = set(excluded_dir_names or ())
    files: list[str] = []
    dirs: dict[str, float] = {}
    seen: set[str] = set()
    for dirpath, subdirs, filenames in os.walk(directory, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link loop
            subdirs[:] = []
            continue
        seen.add(real)
        try:
            dirs[dirpath] = os.path.getmtime(dirpath)
        except OSError:
            log.warning("unable to access %s, skipped", dirpath)
            continue
        subdirs[:] = [d for d in subdirs if d not in excluded]
        files.extend(os.path.relpath(os.path.join(dirpath, f), directory) for f in filenames)
    return files, dirs


def filter_files_extensions(files: Collection[str], extensions: Collection[str]) -> list[str]:
    """The files with one of ``extensions`` (case-insensitive), sorted; all of them when ``extensions`` is empty."""
    return sorted(f for f in files if not extensions or os.path.splitext(f)[-1].lower() in extensions)


def get_full_path(folder_name: str, filename: str) -> str | None:
    """The first existing file ``filename`` in the folders of ``folder_name``; None if absent or outside."""
    entry = folder_names_and_paths.get(map_legacy(folder_name))
    if entry is None:
        return None
    for folder in entry[0]:
        full = _inside(folder, filename)
        if full is None:
            log.warning("refused %r: outside the %s folders", filename, folder_name)
            return None
        if os.path.isfile(full):
            return full
        if os.path.islink(full):
            log.warning("%s exists but does not link anywhere, skipped", full)
    return None


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    full = get_full_path(folder_name, filename)
    if full is None:
        raise FileNotFoundError(f"Model in folder '{folder_name}' with filename '{filename}' not found.")
    return full


def get_filename_list_(folder_name: str) -> tuple[list[str], dict[str, float], float]:
    """A fresh scan: (sorted files of every folder of ``folder_name``, {folder: mtime}, scan time)."""
    paths, extensions = folder_names_and_paths[map_legacy(folder_name)][:2]
    found: set[str] = set()
    mtimes: dict[str, float] = {}
    for folder in paths:
        files, dirs = recursive_search(folder, excluded_dir_names=[".git"])
        found.update(filter_files_extensions(files, extensions))
        mtimes.update(dirs)
    return sorted(found), mtimes, time.perf_counter()


def cached_filename_list_(folder_name: str) -> tuple[list[str], dict[str, float], float] | None:
    """The cached scan while no scanned folder changed and no configured folder appeared; else None."""
    folder_name = map_legacy(folder_name)
    strong = cache_helper.get(folder_name)
    if strong is not None:
        return strong
    out = filename_list_cache.get(folder_name)
    if out is None:
        return None
    for folder, mtime in out[1].items():
        try:
            if os.path.getmtime(folder) != mtime:
                return None
        except OSError:
            return None
    for folder in folder_names_and_paths[folder_name][0]:
        if os.path.isdir(folder) and folder not in out[1]:
            return None
    return out


def get_filename_list(folder_name: str) -> list[str]:
    """The model files of ``folder_name`` (relative, sorted, extension-filtered), rescanned when folders change."""
    folder_name = map_legacy(folder_name)
    out = cached_filename_list_(folder_name)
    if out is None:
        out = filename_list_cache[folder_name] = get_filename_list_(folder_name)
    cache_helper.set(folder_name, out)
    return list(out[0])


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0,
                        image_height: int = 0) -> tuple[str, str, int, str, str]:
    """(full folder, file stem, first free counter, subfolder, prefix after substitution) for saving images.

    ``%width%``, ``%height%``, ``%year%``, ``%month%``, ``%day%``, ``%hour%``, ``%minute%``, ``%second%`` are
    substituted; the counter continues after the highest existing ``stem_NNNNN_`` file; the folder is created.
    """
    if "%" in filename_prefix:
        now = time.localtime()
        for var, value in (("year", now.tm_year), ("month", now.tm_mon), ("day", now.tm_mday),
                           ("hour", now.tm_hour), ("minute", now.tm_min), ("second", now.tm_sec)):
            filename_prefix = filename_prefix.replace(f"%{var}%", str(value).zfill(2))
        filename_prefix = filename_prefix.replace("%width%", str(image_width)).replace("%height%", str(image_height))
    folder, stem, subfolder, counter = save_image_path(filename_prefix, Path(output_dir), image_width, image_height)
    folder.mkdir(parents=True, exist_ok=True)
    return os.path.join(output_dir, subfolder), stem, counter, subfolder, filename_prefix
