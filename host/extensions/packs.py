"""Starting a pack: its child reads the node definitions, the registry binds them to the pack's runner.

Node definitions are cached on disk, keyed by the pack's source files (path, size, mtime) and its environment's
digest: with a valid cache the nodes are registered at once and the child starts on the first call (lazily), so
start-up never waits for a child; an edited pack is read again, and so is every pack when the files in the
model or input folders change (packs list them in INPUT_TYPES: a checkpoint added since shows in their combos
after a restart, as in ComfyUI)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from host.extensions.remote import RemoteRunner
from host.registry import Registry
from isolate.protocol import PackInfo
from isolate.shm import ShmHost

_SOURCE_SUFFIXES = {".py", ".toml", ".txt", ".json", ".cfg"}


def source_key(pack_dir: Path, env_digest: str = "") -> str:
    """A digest of the pack's source files (path, size, mtime) and of its environment."""
    h = hashlib.sha256(env_digest.encode())
    for path in sorted(pack_dir.rglob("*")):
        if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(pack_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def folders_digest(folders: dict[str, Any] | None) -> str:
    """A digest of the file names and sizes under the model and input folders (``folders`` as the child gets
    them; the child's defaults under the working directory when absent)."""
    cfg = folders or {}
    base = Path(cfg.get("base_path") or Path.cwd())
    roots = [Path(cfg.get("models_dir") or base / "models"), Path(cfg.get("input") or base / "input")]
    for entry in (cfg.get("folders") or {}).values():
        try:
            roots += [Path(p) for p in entry[0]]
        except (TypeError, IndexError, KeyError):
            continue
    h = hashlib.sha256()
    for root in sorted(set(roots)):
        for folder, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            depth = len(Path(folder).relative_to(root).parts)
            if depth >= 4:  # model folders nest a level or two; deeper trees are not listed by packs
                dirs.clear()
            for name in sorted(files):
                try:
                    size = os.stat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
                h.update(f"{folder}/{name}\0{size}\n".encode())
    return h.hexdigest()[:20]


def compat_digest() -> str:
    """A digest of nodehost's child side (isolate/: the modules packs import): what a pack registers depends
    on it, so a changed nodehost reads every pack again."""
    import isolate

    root = Path(isolate.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


class NodeDefCache:
    """PackInfo per pack on disk (``<root>/<pack>.json``), valid for one source key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, name: str, key: str) -> PackInfo | None:
        try:
            stored = msgspec.json.decode((self.root / f"{name}.json").read_bytes())
        except (OSError, msgspec.DecodeError):
            return None
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        try:
            return msgspec.convert(stored["info"], PackInfo)
        except msgspec.ValidationError:
            return None

    def put(self, name: str, key: str, info: PackInfo) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.json.tmp"
        tmp.write_bytes(msgspec.json.encode({"key": key, "info": info}))
        tmp.replace(self.root / f"{name}.json")


async def start_pack(registry: Registry, pack_dir: Path, name: str | None = None,
                     python: str = sys.executable, shm: ShmHost | None = None, cache: NodeDefCache | None = None,
                     env_digest: str = "", folders: dict[str, Any] | None = None,
                     launcher: Any = None, bridge: Any = None) -> tuple[RemoteRunner, PackInfo]:
    """Register the pack's nodes (name clashes are recorded conflicts) and return its runner and PackInfo.

    With a valid ``cache`` entry no child is spawned now (it starts on the first call); otherwise the child
    is spawned and its definitions cached. A pack that fails to import registers nothing; the reason is in
    ``PackInfo.failures`` and in ``registry.failures`` under ``<pack>:<node or <import>>`` (never cached)."""
    name = name or pack_dir.name
    runner = RemoteRunner(name, pack_dir, python, shm=shm, folders=folders)
    runner.launcher = launcher  # None, or the pack's sandbox (host/extensions/sandbox.py)
    if bridge is None:
        from host.extensions.bridge import HostBridge

        bridge = HostBridge(registry)
    runner.bridge = bridge  # the pack's calls into the host: core nodes, model proxies
    runner.loop = asyncio.get_running_loop()  # the child belongs to this loop, even when it starts later
    key = (source_key(pack_dir, env_digest + compat_digest() + folders_digest(folders))
           if cache is not None else "")
    info = cache.get(name, key) if cache is not None else None
    if info is None:
        info = await runner.start()
        if cache is not None and "<import>" not in info.failures:
            cache.put(name, key, info)
    runner.web_directory = info.web_directory
    runner.routes = info.routes
    for nodedef in info.nodes:
        registry.add(nodedef, runner)
    for what, reason in info.failures.items():
        registry.failures[f"{name}:{what}"] = reason
    return runner, info
