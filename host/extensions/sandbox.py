"""Which packs run sandboxed, and what each may see: the host's side of isolate/sandbox.py.

``--sandbox`` sandboxes every pack; the user's manifest for a pack (``<extensions>/<pack>.deps.toml``, the file
that also holds dependency overrides: the user's, never the pack's) may hold a ``[sandbox]`` table::

    [sandbox]
    enabled = true            # sandbox this pack even without --sandbox (false: never sandbox it)
    network = true            # keep the host's network (default: none but its own loopback)
    read = ["models", "/data/luts"]    # extra read-only folders: host folder names or absolute paths
    write = ["/data/cache"]            # extra writable folders

Every sandboxed pack sees read-only: the system, the host's Python and torch, its own environment and folder;
read-write: output, temp and its own state folder ``<state root>/<pack>`` (its HOME), and the host's
shared-memory folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolate.sandbox import SandboxLauncher, SandboxPolicy, check_available, host_python_paths

#: host folders a grant may name instead of a path
NAMED_FOLDERS = ("models_dir", "input", "output", "temp")


class SandboxGrantError(ValueError):
    """A manifest's ``[sandbox]`` table is malformed."""


@dataclass(frozen=True)
class SandboxGrants:
    """A pack's ``[sandbox]`` table."""

    enabled: bool | None = None  # None: as --sandbox says
    network: bool = False
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


def read_grants(manifest: dict[str, Any] | None) -> SandboxGrants:
    table = (manifest or {}).get("sandbox", {})
    if not isinstance(table, dict):
        raise SandboxGrantError("[sandbox] must be a table")
    unknown = set(table) - {"enabled", "network", "read", "write"}
    if unknown:
        raise SandboxGrantError(f"[sandbox] has unknown keys: {', '.join(sorted(unknown))}")
    for key in ("enabled", "network"):
        if key in table and not isinstance(table[key], bool):
            raise SandboxGrantError(f"[sandbox] {key} must be true or false")
    lists = {}
    for key in ("read", "write"):
        value = table.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise SandboxGrantError(f"[sandbox] {key} must be a list of folders")
        lists[key] = tuple(value)
    return SandboxGrants(table.get("enabled"), bool(table.get("network", False)), lists["read"], lists["write"])


@dataclass
class SandboxConfig:
    """Host-wide sandbox settings, built once at start-up and passed to the loader."""

    #: --sandbox: every pack (unless its manifest says ``enabled = false``)
    enabled: bool
    #: the packs' state folders, one each
    state_root: Path
    #: the host's folders (output, temp, input, models_dir, ...) as the children's folder_paths get them
    folders: dict[str, Any]
    #: the host's private shared-memory folder; None: /dev/shm is shared whole
    shm_dir: str | None = None
    _bwrap: str | None = None

    def sandboxed(self, grants: SandboxGrants) -> bool:
        return grants.enabled if grants.enabled is not None else self.enabled

    def bwrap(self) -> str:
        """bwrap's path, checked once (SandboxUnavailable when it cannot sandbox here)."""
        if self._bwrap is None:
            self._bwrap = check_available()
        return self._bwrap

    def resolve(self, entry: str) -> str:
        """A grant's folder: a host folder name (``models``, ``input``, ...) or an absolute path."""
        name = "models_dir" if entry == "models" else entry
        if name in NAMED_FOLDERS:
            if not self.folders.get(name):
                raise SandboxGrantError(f"[sandbox] grant {entry!r}: the host has no such folder")
            return str(Path(self.folders[name]).resolve())
        path = Path(os.path.expanduser(entry))
        if not path.is_absolute():
            raise SandboxGrantError(f"[sandbox] grant {entry!r}: a folder name ({', '.join(NAMED_FOLDERS)}) "
                                    "or an absolute path")
        return str(path.resolve())

    def policy(self, pack: str, pack_dir: Path, env_dir: Path | None, grants: SandboxGrants) -> SandboxPolicy:
        state = str((self.state_root / pack).resolve())
        read = [*host_python_paths(), str(pack_dir.resolve()), *(self.resolve(r) for r in grants.read)]
        if env_dir is not None:
            read.append(str(env_dir.resolve()))
        write = [state, *(self.resolve(w) for w in grants.write)]
        write += [str(Path(self.folders[k]).resolve()) for k in ("output", "temp") if self.folders.get(k)]
        return SandboxPolicy(tuple(dict.fromkeys(read)), tuple(dict.fromkeys(write)), home=state,
                             shm_dir=self.shm_dir, network=grants.network)

    def launcher(self, pack: str, pack_dir: Path, env_dir: Path | None,
                 grants: SandboxGrants) -> SandboxLauncher | None:
        """The pack's launcher when it is sandboxed, else None (SandboxUnavailable if bwrap cannot run)."""
        if not self.sandboxed(grants):
            return None
        return SandboxLauncher(self.policy(pack, pack_dir, env_dir, grants), self.bwrap())


def describe(grants: SandboxGrants, sandboxed: bool, shm_dir: str | None = None) -> str:
    """The sandbox column of ``nodehost ext list``."""
    if not sandboxed:
        return "not sandboxed"
    parts = ["network" if grants.network else "no network"]
    if grants.read:
        parts.append("read " + ", ".join(grants.read))
    if grants.write:
        parts.append("write " + ", ".join(grants.write))
    if shm_dir is None:
        parts.append("whole /dev/shm")
    return "sandboxed: " + "; ".join(parts)


def sandbox_for(config: SandboxConfig | None, pack_dir: Path, env_dir: Path | None,
                manifest: dict[str, Any] | None) -> tuple[SandboxLauncher | None, str]:
    """The pack's launcher (None: not sandboxed) and its ``nodehost ext list`` description."""
    grants = read_grants(manifest)
    if config is None:
        if grants.enabled:
            raise SandboxGrantError("[sandbox] enabled = true, but this host was started without sandbox support")
        return None, ""
    launcher = config.launcher(pack_dir.name, pack_dir, env_dir, grants)
    return launcher, describe(grants, launcher is not None, config.shm_dir)
