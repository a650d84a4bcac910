"""Reloading edited packs under a running host (``nodehost serve --watch-packs``).

:class:`PackWatcher` polls each pack folder's files (size and mtime, the files the node-definition cache keys
on) and, once a pack has been quiet for ``quiet`` seconds after a change, calls back with the files that changed.
:func:`reload_pack` restarts that pack's child and binds its new node definitions in the registry; a pack
whose new code fails to import keeps its old definitions, and its runner refuses calls with the error until a
later edit imports. When the pack's environment inputs changed (``requirements.txt``, ``pyproject.toml``
dependencies, ``install.py``, its ``<pack>.deps.toml``: the digest the environment is cached by), the reload first
rebuilds its environment as start-up does (requirements resolved again in its uv venv, ``install.py`` run again)
with the child stopped; a rebuild that fails counts as a failed import. When to reload (never under a running
prompt) is the server's business (host/server/pack_watch.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.extensions.loader import pack_env_spec, url_hint
from host.extensions.packs import _SOURCE_SUFFIXES
from host.extensions.remote import RemoteRunner
from host.registry import Registry
from isolate.import_watch import describe_missing
from isolate.protocol import PackInfo
from isolate.venv import PackEnv, VenvBuilder, VenvBuildError, torch_family_notes

log = logging.getLogger("nodehost.extensions")

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})

Snapshot = dict[str, tuple[int, int]]


def snapshot(pack_dir: Path) -> Snapshot:
    """``relative path -> (size, mtime_ns)`` of the pack's source files and its manifest; hidden folders
    (``.git``), ``__pycache__`` and ``node_modules`` are not walked. A folder that is gone has no sources."""
    files: Snapshot = {}
    root = str(pack_dir)
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in names:
            if os.path.splitext(name)[1] not in _SOURCE_SUFFIXES:
                continue
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except OSError:  # removed while we looked
                continue
            if stat.S_ISREG(st.st_mode):
                files[os.path.relpath(path, root).replace(os.sep, "/")] = (st.st_size, st.st_mtime_ns)
    manifest = manifest_path(pack_dir)
    try:
        st = manifest.stat()
        files[f"../{manifest.name}"] = (st.st_size, st.st_mtime_ns)
    except OSError:  # none (the usual case), or removed while we looked
        pass
    return files


def manifest_path(pack_dir: Path) -> Path:
    """The user's manifest for the pack, beside its folder (``<extensions>/<pack>.deps.toml``): part of what its
    environment is built from, so an edit to it is a change to the pack (shown as ``../<pack>.deps.toml``)."""
    return pack_dir.parent / f"{pack_dir.name}.deps.toml"


def changed_files(old: Snapshot, new: Snapshot) -> set[str]:
    """Files added, removed or modified between two snapshots."""
    return {f for f in old.keys() | new.keys() if old.get(f) != new.get(f)}


def drop_stale_bytecode(pack_dir: Path, files: list[str]) -> None:
    """Remove the cached bytecode of the changed ``.py`` files: Python trusts a ``.pyc`` whose recorded source
    size and mtime (whole seconds) match, so an edit of the same length within the second would be missed."""
    for rel in files:
        source = pack_dir / rel
        if source.suffix == ".py":
            for pyc in (source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"):
                pyc.unlink(missing_ok=True)


OnChange = Callable[[str, list[str]], Awaitable[Any]]


class PackWatcher:
    """Polls pack folders every ``interval`` seconds; a pack quiet for ``quiet`` seconds after its last change
    is handed to ``on_change(name, changed files)``, one pack at a time (a failing callback is logged)."""

    def __init__(self, packs: dict[str, Path], on_change: OnChange, interval: float = 0.5,
                 quiet: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.packs = dict(packs)
        self.on_change = on_change
        self.interval = interval
        self.quiet = quiet
        self.clock = clock
        self._seen: dict[str, Snapshot] = {}
        self._pending: dict[str, set[str]] = {}
        self._last_change: dict[str, float] = {}
        #: how long the last look at every pack took
        self.scan_seconds = 0.0

    def _snapshots(self) -> dict[str, Snapshot]:
        return {name: snapshot(path) for name, path in self.packs.items()}

    async def start(self) -> None:
        """The baseline: what the packs hold now is what is loaded."""
        self._seen = await asyncio.to_thread(self._snapshots)

    async def run(self, started: bool = False) -> None:
        """Poll forever; between looks at least ``interval``, and ten times what the last look took (large pack
        folders are never scanned more than a tenth of the time). ``started``: ``start`` took the baseline."""
        if not started:
            await self.start()
        while True:
            await asyncio.sleep(max(self.interval, 10 * self.scan_seconds))
            await self.poll()

    async def poll(self) -> list[str]:
        """One look at every pack; returns the packs handed to ``on_change`` now."""
        began = time.monotonic()
        current = await asyncio.to_thread(self._snapshots)
        self.scan_seconds = time.monotonic() - began
        now = self.clock()
        for name, snap in current.items():
            changed = changed_files(self._seen.get(name, {}), snap)
            if changed:
                self._seen[name] = snap
                self._pending.setdefault(name, set()).update(changed)
                self._last_change[name] = now
        due = [n for n in self._pending if now - self._last_change[n] >= self.quiet]
        for name in due:
            files = sorted(self._pending.pop(name))
            try:
                await self.on_change(name, files)
            except Exception:  # the watch goes on; the next edit tries again
                log.exception("reloading pack %s failed", name)
            # files edited while it reloaded (waiting for a prompt, say) may or may not be what the new child
            # read: they make one more reload, after their own quiet time
            after = await asyncio.to_thread(snapshot, self.packs[name])
            late = changed_files(current[name], after)
            self._seen[name] = after
            if late:
                self._pending.setdefault(name, set()).update(late)
                self._last_change[name] = self.clock()
        return due


@dataclass
class Reload:
    """What one reload of a pack did."""

    pack: str
    ok: bool
    error: str = ""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    #: the pack's node names after the reload (the old ones when it failed)
    nodes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the environment it was rebuilt into (None: its inputs had not changed, or the rebuild failed)
    env: PackEnv | None = None


@dataclass
class EnvBuild:
    """How this host builds pack environments, as start-up built them (``--find-links``, ``--offline``)."""

    builder: VenvBuilder
    find_links: list[str] = field(default_factory=list)
    offline: bool = False


async def rebuild_env(runner: RemoteRunner, envs: EnvBuild) -> tuple[PackEnv | None, list[str]]:
    """The pack's environment again when what goes into it changed (its digest: requirements, install.py, the
    manifest), with its child stopped first (its venv is replaced under it); ``(None, [])`` when unchanged, else
    the new environment and the notes on it. Raises VenvBuildError (or ValueError / OSError on a bad file)."""
    spec, reqs = pack_env_spec(runner.pack_dir, envs.find_links, envs.offline)
    if envs.builder.cached(spec) is not None:
        return None, []
    log.info("pack %s: its dependencies changed, rebuilding its environment", runner.name)
    await runner.stop_child()
    try:
        env = await envs.builder.ensure(spec)
    except VenvBuildError as exc:
        raise VenvBuildError(runner.name, exc.reason + url_hint(runner.name, reqs), exc.log) from exc
    runner.python = str(env.python)
    return env, list(reqs.problems) + torch_family_notes(spec.requirements) + list(env.notes)


def import_error(info: PackInfo, pack_dir: Path | None = None) -> str:
    """A failed import's one-line reason: the exception's last line, where in the pack it was raised (the
    innermost frame in ``pack_dir``) and the host modules it missed."""
    trace = info.failures["<import>"].split("while importing, the pack\n")[0].strip()
    error = trace.splitlines()[-1]
    if pack_dir is not None:
        root = str(pack_dir.resolve())
        frames = [(f, n) for f, n in re.findall(r'File "([^"]+)", line (\d+)', trace) if f.startswith(root + "/")]
        if frames:
            error += f" (at {frames[-1][0][len(root) + 1:]}:{frames[-1][1]})"
    return "; ".join([error] + describe_missing(info.missing_imports))


async def reload_pack(registry: Registry, runner: RemoteRunner, files: list[str] | None = None,
                      envs: EnvBuild | None = None) -> Reload:
    """Restart ``runner``'s child (on its loop, with nothing running there) and rebind its nodes; ``files``: the
    pack's changed files. With ``envs``, its environment is rebuilt first when its inputs changed. A rebuild
    that fails, or a new child that fails to import or dies starting, leaves the old definitions registered and
    the runner failed."""
    name = runner.name
    drop_stale_bytecode(runner.pack_dir, files or [])
    env, env_notes = None, []
    if envs is not None:
        try:
            env, env_notes = await rebuild_env(runner, envs)
        except (VenvBuildError, ValueError, OSError) as exc:
            registry.failures[f"{name}:<environment>"] = str(exc)
            reason = exc.reason if isinstance(exc, VenvBuildError) else f"{type(exc).__name__}: {exc}"
            return await _failed(registry, runner, f"its environment could not be rebuilt: {reason}")
        registry.failures.pop(f"{name}:<environment>", None)
    try:
        info = await runner.restart()
    except Exception as exc:  # it died at import (os._exit, a segfault) or never answered
        info = PackInfo(name, [], failures={"<import>": f"{type(exc).__name__}: {exc}"})
    if "<import>" in info.failures:
        registry.failures[f"{name}:<import>"] = info.failures["<import>"]
        result = await _failed(registry, runner, import_error(info, runner.pack_dir))
        result.env, result.notes = env, env_notes
        return result
    runner.failed = None
    runner.web_directory, runner.routes = info.web_directory, info.routes
    added, removed, changed = registry.rebind(runner, info.nodes)
    for key in [k for k in registry.failures if k.startswith(f"{name}:")]:
        del registry.failures[key]
    for what, reason in info.failures.items():
        registry.failures[f"{name}:{what}"] = reason
    notes = env_notes + list(info.warnings) + describe_missing(info.missing_imports)
    notes += [f"{what} failed: {why.strip().splitlines()[-1]}" for what, why in info.failures.items()]
    return Reload(name, True, added=added, removed=removed, changed=changed, nodes=[n.name for n in info.nodes],
                  notes=notes, env=env)


async def _failed(registry: Registry, runner: RemoteRunner, error: str) -> Reload:
    """The pack cannot run its new code: its child stopped, its calls refused with ``error``, its old nodes kept."""
    runner.failed = error
    await runner.stop_child()
    kept = [n for n, b in registry.nodes.items() if b.runner is runner]
    return Reload(runner.name, False, error, nodes=kept)
