"""One virtual environment per node pack, built with uv, sharing the host's torch (ISOLATION_FACTS.md).

Recipe (each step verified on this machine, ISOLATION_FACTS.md "Recommended recipe"):
1. ``uv venv --clear --python <host python> <envs>/<pack>``;
2. ``site-packages/_nodehost_host.pth`` runs ``site.addsitedir(<host purelib>)``: the host's packages (torch)
   come *after* the pack's own, so a pack's numpy wins over the host's;
3. ``uv pip install --excludes`` keeps torch, torchvision, torchaudio and triton out (a pack must never replace
   the host's torch), ``-c`` pins torch's own dependencies to what the host's torch requires; a pack asking for
   a torch the host does not have fails with a clear error instead of being dropped silently;
4. the environment is cached by a hash of everything that goes into it and rebuilt only when that changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from isolate.install_script import run_install_script, script_digest
from isolate.pack_requirements import read_pack_requirements, requirement_name
from isolate.pip_standin import write_standin

__all__ = ["EnvSpec", "PackEnv", "VenvBuilder", "VenvBuildError", "read_requirements", "requirement_name"]

#: provided by the host, never installed into a pack environment
HOST_PROVIDED = ("torch", "torchvision", "torchaudio", "triton")
MARKER = ".nodehost-env.json"


class VenvBuildError(RuntimeError):
    """A pack's environment could not be built; ``log`` holds uv's output."""

    def __init__(self, pack: str, reason: str, log: str = "") -> None:
        super().__init__(f"pack {pack!r}: {reason}")
        self.pack, self.reason, self.log = pack, reason, log


def read_requirements(pack_dir: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """The pack's requirement lines from all its sources and the user's manifest (isolate/pack_requirements.py)."""
    return read_pack_requirements(pack_dir, manifest).requirements


def host_purelib() -> str:
    return sysconfig.get_paths()["purelib"]


def host_torch_constraints() -> list[str]:
    """torch's own (non-extra) requirements, as the host's torch declares them."""
    try:
        return [r for r in metadata.requires("torch") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        return []


def find_uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise VenvBuildError("*", "uv is not installed (pip install uv)") from None
        return found


@dataclass(frozen=True)
class EnvSpec:
    """Everything that goes into one pack's environment (its hash decides rebuilds)."""

    pack: str
    requirements: list[str]
    find_links: list[str] = field(default_factory=list)
    offline: bool = False
    #: the pack's own index options (``--extra-index-url URL``, ``--find-links DIR``) and ``-c`` constraint lines
    index_options: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    #: the pack folder: its ``install.py`` (if any) runs once the environment is built
    pack_dir: Path | None = None

    def digest(self) -> str:
        data = {"pack": self.pack, "requirements": self.requirements, "find_links": self.find_links,
                "offline": self.offline, "index_options": self.index_options, "pack_constraints": self.constraints,
                "python": sys.version, "host_purelib": host_purelib(), "install_py": script_digest(self.pack_dir),
                "torch": _version("torch"), "constraints": host_torch_constraints()}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PackEnv:
    path: Path
    python: Path
    digest: str
    built: bool  # False when the cached environment was reused
    #: what the user should know about how it was made (an install.py that failed)
    notes: tuple[str, ...] = ()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_torch_requirement(pack: str, requirements: list[str]) -> None:
    """uv's excludes drop torch requirements silently: compare them with the host's torch ourselves."""
    torch_version = _version("torch")
    if torch_version is None:
        return
    for line in requirements:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != "torch" or (req.marker is not None and not req.marker.evaluate()):
            continue
        if req.specifier and not req.specifier.contains(Version(torch_version), prereleases=True):
            raise VenvBuildError(pack, f"needs {line.strip()}, but the host's torch is {torch_version}")


def matching_build(dist: str, torch_version: str) -> str:
    """The command that adds ``dist`` (torchvision / torchaudio) built for the host's torch, in the host's env."""
    release, _, local = torch_version.partition("+")
    major, minor = (int(x) for x in release.split(".")[:2])
    version = f"0.{minor + 15}" if dist == "torchvision" and major == 2 else f"{major}.{minor}"
    index = f" --index-url https://download.pytorch.org/whl/{local}" if local else ""
    return f"pip install '{dist}=={version}.*'{index}"


def torch_family_notes(requirements: list[str]) -> list[str]:
    """torchvision / torchaudio are shared from the host like torch: a pack declaring one the host lacks is
    told so (which package, the command that adds the build matching the host's torch), never dropped silently."""
    torch_version = _version("torch")
    notes = []
    for dist in sorted({requirement_name(r) for r in requirements} & {"torchvision", "torchaudio"}):
        if _version(dist) is None:
            fix = f"; add it to the host with: {matching_build(dist, torch_version)}" if torch_version else ""
            notes.append(f"requires {dist}, which the host does not have (it is shared from the host like torch, "
                         f"never installed into a pack){fix}")
    return notes


class VenvBuilder:
    """Builds and caches pack environments under ``root`` (one folder per pack)."""

    def __init__(self, root: Path, uv: str | None = None, python: str = sys.executable) -> None:
        self.root = root
        self.uv = uv or find_uv()
        self.python = python

    def env_dir(self, pack: str) -> Path:
        return self.root / re.sub(r"[^A-Za-z0-9._-]", "_", pack)

    def cached(self, spec: EnvSpec) -> PackEnv | None:
        path = self.env_dir(spec.pack)
        try:
            marker = json.loads((path / MARKER).read_text())
        except (OSError, ValueError):
            return None
        python = path / "bin" / "python"
        if marker.get("digest") == spec.digest() and python.exists():
            return PackEnv(path, python, marker["digest"], built=False, notes=tuple(marker.get("notes", [])))
        return None

    async def ensure(self, spec: EnvSpec) -> PackEnv:
        """The pack's environment, built (or rebuilt) when its inputs changed."""
        found = self.cached(spec)
        if found is not None:
            return found
        check_torch_requirement(spec.pack, spec.requirements)
        path = self.env_dir(spec.pack)
        path.parent.mkdir(parents=True, exist_ok=True)
        (path / MARKER).unlink(missing_ok=True)
        await self._run(spec.pack, [self.uv, "venv", "--clear", "--quiet", "--python", self.python, str(path)])
        site = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
        site.mkdir(parents=True, exist_ok=True)
        (site / "_nodehost_host.pth").write_text(f"import site; site.addsitedir({host_purelib()!r})\n")
        options = self._install_options(spec, path)
        write_standin(site, path, self.uv, options)
        if spec.requirements:
            (path / "nodehost-requirements.txt").write_text("\n".join(spec.requirements) + "\n")
            cmd = [self.uv, "pip", "install", "--python", str(path / "bin" / "python"), *options,
                   "-r", str(path / "nodehost-requirements.txt")]
            await self._run(spec.pack, cmd)
        notes = []
        if spec.pack_dir is not None and script_digest(spec.pack_dir):
            result = await run_install_script(spec.pack_dir, path)
            if not result.ok:
                notes.append(result.detail)
        digest = spec.digest()
        (path / MARKER).write_text(json.dumps({"digest": digest, "requirements": spec.requirements, "notes": notes}))
        return PackEnv(path, path / "bin" / "python", digest, built=True, notes=tuple(notes))

    def _install_options(self, spec: EnvSpec, path: Path) -> list[str]:
        """What every install into this environment gets: torch-family excludes, the host's torch constraints
        and the pack's ``-c`` lines, the index options (used by the build and by the pack's pip stand-in)."""
        (path / "nodehost-excludes.txt").write_text("\n".join(HOST_PROVIDED) + "\n")
        (path / "nodehost-constraints.txt").write_text("\n".join(host_torch_constraints() + spec.constraints) + "\n")
        options = ["--excludes", str(path / "nodehost-excludes.txt"), "-c", str(path / "nodehost-constraints.txt")]
        options += ["--offline", "--no-index"] if spec.offline else spec.index_options
        for link in spec.find_links:
            options += ["--find-links", link]
        return options

    async def _run(self, pack: str, cmd: list[str]) -> str:
        env = {k: v for k, v in __import__("os").environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, env=env)
        out, _ = await proc.communicate()
        log = out.decode(errors="replace")
        if proc.returncode != 0:
            reason = log.strip().splitlines()[-1] if log.strip() else f"uv exited with {proc.returncode}"
            raise VenvBuildError(pack, f"environment build failed: {reason}", log)
        return log
