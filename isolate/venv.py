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

from isolate.pack_requirements import read_pack_requirements, requirement_name

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

    def digest(self) -> str:
        data = {"pack": self.pack, "requirements": self.requirements, "find_links": self.find_links,
                "offline": self.offline, "index_options": self.index_options, "pack_constraints": self.constraints,
                "python": sys.version, "host_purelib": host_purelib(),
                "torch": _version("torch"), "constraints": host_torch_constraints()}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PackEnv:
    path: Path
    python: Path
    digest: str
    built: bool  # False when the cached environment was reused


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
            return PackEnv(path, python, marker["digest"], built=False)
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
        if spec.requirements:
            await self._install(spec, path)
        digest = spec.digest()
        (path / MARKER).write_text(json.dumps({"digest": digest, "requirements": spec.requirements}))
        return PackEnv(path, path / "bin" / "python", digest, built=True)

    async def _install(self, spec: EnvSpec, path: Path) -> None:
        (path / "nodehost-requirements.txt").write_text("\n".join(spec.requirements) + "\n")
        (path / "nodehost-excludes.txt").write_text("\n".join(HOST_PROVIDED) + "\n")
        (path / "nodehost-constraints.txt").write_text("\n".join(host_torch_constraints() + spec.constraints) + "\n")
        cmd = [self.uv, "pip", "install", "--python", str(path / "bin" / "python"),
               "--excludes", str(path / "nodehost-excludes.txt"), "-c", str(path / "nodehost-constraints.txt"),
               "-r", str(path / "nodehost-requirements.txt")]
        if spec.offline:
            cmd += ["--offline", "--no-index"]
        else:
            cmd += spec.index_options
        for link in spec.find_links:
            cmd += ["--find-links", link]
        await self._run(spec.pack, cmd)

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
