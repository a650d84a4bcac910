"""Loading every pack of an extensions folder: one uv environment each (built in parallel, cached), one child
each, nodes registered; a pack whose environment or import fails is reported and everything else goes on."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.extensions.packs import NodeDefCache, start_pack
from host.extensions.remote import RemoteRunner
from host.extensions.sandbox import SandboxConfig, sandbox_for
from host.registry import Registry
from isolate.import_watch import describe_missing
from isolate.pack_requirements import PackRequirements, read_pack_requirements
from isolate.sandbox import SandboxUnavailable
from isolate.shm import ShmHost
from isolate.venv import EnvSpec, PackEnv, VenvBuilder, VenvBuildError, torch_family_notes

log = logging.getLogger("nodehost.extensions")


@dataclass
class PackStatus:
    """What ``nodehost ext list`` shows for a pack."""

    name: str
    path: Path
    state: str  # ready | failed | disabled
    reason: str = ""
    nodes: list[str] = field(default_factory=list)
    env: PackEnv | None = None
    #: requirement lines that were skipped, and other notes on how the environment was made
    notes: list[str] = field(default_factory=list)
    sandbox: str = ""  # how it is sandboxed (host/extensions/sandbox.py describe)
    #: a pack whose import failed, loaded with ``keep_failed``: its runner, child stopped, calls refused (a
    #: watching server restarts it once the pack is edited: host/extensions/watch.py)
    runner: RemoteRunner | None = None


def read_manifest(ext_dir: Path, pack: str) -> dict[str, Any] | None:
    """The user's dependency overrides for a pack: ``<extensions>/<pack>.deps.toml`` with ``add = [...]`` (extra or
    replacing requirements, for packs that import what they do not declare) and ``remove = [...]``."""
    path = ext_dir / f"{pack}.deps.toml"
    if not path.is_file():
        return None
    import tomllib

    return tomllib.loads(path.read_text())


def pack_env_spec(pack_dir: Path, find_links: list[str] | None = None, offline: bool = False,
                  manifest: dict[str, Any] | None = None) -> tuple[EnvSpec, PackRequirements]:
    """The environment a pack gets: its declared requirements and its manifest (``<pack>.deps.toml`` beside it,
    unless ``manifest`` is given), skipped lines logged."""
    if manifest is None:
        manifest = read_manifest(pack_dir.parent, pack_dir.name)
    reqs = read_pack_requirements(pack_dir, manifest)
    for problem in reqs.problems:
        log.warning("pack %s: %s", pack_dir.name, problem)
    spec = EnvSpec(pack_dir.name, reqs.requirements, list(find_links or []), offline, reqs.options, reqs.constraints,
                   pack_dir=pack_dir)
    return spec, reqs


def url_hint(pack: str, reqs: PackRequirements) -> str:
    """When a build fails and the pack has URL requirements (``git+https://...``): which lines, and how to replace
    them in the pack's manifest when the host cannot reach them."""
    urls = [r for r in reqs.requirements if "://" in r]
    if not urls:
        return ""
    where = "; ".join(f"{reqs.origins[r]}: {r}" for r in urls)
    return (f" (URL requirements, fetched by uv when the host can reach them: {where}. If it cannot, replace them "
            f"in {pack}.deps.toml beside the pack, e.g. add = [\"name>=version\"] for a released version or "
            f"add = [\"name @ file:///path/to/a/checkout\"])")


async def _prewarm(runner: RemoteRunner) -> None:
    try:
        await runner.ensure_started()
    except Exception as exc:  # reported, and tried again on the pack's first call
        log.warning("prewarming pack %s failed: %s", runner.name, exc)


def discover(ext_dir: Path) -> list[Path]:
    """Pack folders as ComfyUI finds them: directories, ``*.disabled`` and hidden ones skipped (reported)."""
    if not ext_dir.is_dir():
        return []
    return sorted(p for p in ext_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


async def load_extensions(registry: Registry, ext_dir: Path | list[Path], builder: VenvBuilder, *,
                          find_links: list[str] | None = None, offline: bool = False,
                          manifests: dict[str, dict[str, Any]] | None = None, shm: ShmHost | None = None,
                          cache: NodeDefCache | None = None, folders: dict[str, Any] | None = None,
                          prewarm: bool = False, sandbox: SandboxConfig | None = None,
                          keep_failed: bool = False) -> tuple[list[RemoteRunner], list[PackStatus]]:
    """Build every pack's environment (in parallel), register its nodes (from ``cache`` when the pack and its
    environment are unchanged: the child then starts on first use), else start its child to read them. With
    ``keep_failed`` a pack that fails to import keeps its stopped runner in its status (else it is closed)."""
    packs = [p for d in (ext_dir if isinstance(ext_dir, list) else [ext_dir]) for p in discover(d)]
    statuses = [PackStatus(p.name, p, "disabled") for p in packs if p.name.endswith(".disabled")]
    active = [p for p in packs if not p.name.endswith(".disabled")]

    async def one(pack_dir: Path) -> tuple[RemoteRunner | None, PackStatus]:
        status = PackStatus(pack_dir.name, pack_dir, "failed")
        try:
            manifest = (manifests or {}).get(pack_dir.name) or read_manifest(pack_dir.parent, pack_dir.name)
            spec, reqs = pack_env_spec(pack_dir, find_links, offline, manifest)
            status.notes = list(reqs.problems)
            extra = torch_family_notes(spec.requirements)
            status.env = await builder.ensure(spec)
            extra += list(status.env.notes)
            for note in extra:
                log.warning("pack %s: %s", pack_dir.name, note)
            status.notes += extra
            launcher, status.sandbox = sandbox_for(sandbox, pack_dir, status.env.path, manifest)
        except VenvBuildError as exc:
            status.reason = str(exc) + url_hint(pack_dir.name, reqs)
            registry.failures[f"{pack_dir.name}:<environment>"] = status.reason
            return None, status
        except (ValueError, OSError, SandboxUnavailable) as exc:
            status.reason = str(exc)
            registry.failures[f"{pack_dir.name}:<environment>"] = status.reason
            return None, status
        runner, info = await start_pack(registry, pack_dir, pack_dir.name, python=str(status.env.python), shm=shm,
                                        cache=cache, env_digest=status.env.digest, folders=folders,
                                        launcher=launcher)
        status.nodes = [n.name for n in info.nodes]
        for warning in info.warnings:  # what the pack patched at import that cannot reach the host
            log.warning("%s", warning)
        status.notes += info.warnings
        if "<import>" not in info.failures:  # a failed import names them in its reason
            status.notes += describe_missing(info.missing_imports)
        status.notes += [f"{what} failed: {why.strip().splitlines()[-1]}" for what, why in info.failures.items()
                         if what != "<import>"]
        if "<import>" in info.failures:
            error = info.failures["<import>"].split("while importing, the pack\n")[0].strip().splitlines()[-1]
            status.reason = "; ".join([error] + describe_missing(info.missing_imports))
            if keep_failed:
                await runner.stop_child()
                runner.failed, status.runner = status.reason, runner
            else:
                await runner.close()
            return None, status
        status.state = "ready"
        return runner, status

    results = await asyncio.gather(*(one(p) for p in active))
    runners = [r for r, _ in results if r is not None]
    if prewarm:  # children of packs registered from the cache start now, in the background
        for runner in runners:
            if runner.child is None:
                asyncio.ensure_future(_prewarm(runner))
    return runners, statuses + [s for _, s in results]
