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
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

#: provided by the host, never installed into a pack environment
HOST_PROVIDED = ("torch", "torchvision", "torchaudio", "triton")
MARKER = ".nodehost-env.json"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class VenvBuildError(RuntimeError):
    """A pack's environment could not be built; ``log`` holds uv's output."""

    def __init__(self, pack: str, reason: str, log: str = "") -> None:
        super().__init__(f"pack {pack!r}: {reason}")
        self.pack, self.reason, self.log = pack, reason, log


def requirement_name(req: str) -> str:
    match = _NAME.match(req)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def read_requirements(pack_dir: Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """The pack's dependencies: ``pyproject.toml [project].dependencies`` and ``requirements.txt``, then the
    user's manifest (``{"add": [...], "remove": [names]}``, for packs that import what they do not declare)."""
    reqs: list[str] = []
    pyproject = pack_dir / "pyproject.toml"
    if pyproject.is_file():
        reqs += tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", [])
    requirements = pack_dir / "requirements.txt"
    if requirements.is_file():
        for line in requirements.read_text().splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith(("#", "-")):
                reqs.append(line)
    manifest = manifest or {}
    removed = {requirement_name(r) for r in manifest.get("remove", [])}
    added = list(manifest.get("add", []))
    overridden = {requirement_name(r) for r in added}
    kept = [r for r in reqs if requirement_name(r) not in removed | overridden]
    return list(dict.fromkeys(kept + added))


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

    def digest(self) -> str:
        data = {"pack": self.pack, "requirements": self.requirements, "find_links": self.find_links,
                "offline": self.offline, "python": sys.version, "host_purelib": host_purelib(),
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
    for req in requirements:
        if requirement_name(req) not in HOST_PROVIDED or torch_version is None:
            continue
        spec = req[len(_NAME.match(req).group(0)):].split(";")[0].strip()  # type: ignore[union-attr]
        if spec and requirement_name(req) == "torch" and not _satisfies(torch_version, spec):
            raise VenvBuildError(pack, f"needs {req.strip()}, but the host's torch is {torch_version}")


def _satisfies(version: str, spec: str) -> bool:
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version
    except ImportError:  # packaging missing: cannot judge, let uv's constraints decide
        return True
    return Version(version) in SpecifierSet(spec.strip("()"), prereleases=True)


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
        (path / "nodehost-constraints.txt").write_text("\n".join(host_torch_constraints()) + "\n")
        cmd = [self.uv, "pip", "install", "--python", str(path / "bin" / "python"),
               "--excludes", str(path / "nodehost-excludes.txt"), "-c", str(path / "nodehost-constraints.txt"),
               "-r", str(path / "nodehost-requirements.txt")]
        if spec.offline:
            cmd += ["--offline", "--no-index"]
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
