"""``nodehost ext ...`` and the extension options of ``nodehost run``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from host.registry import Registry


def default_envs_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nodehost" / "envs"


def add_extension_flags(parser: argparse.ArgumentParser, sandbox: bool = False) -> None:
    group = parser.add_argument_group("extensions")
    group.add_argument("--extensions-dir", default="extensions",
                       help="folder of node packs, each run in its own environment (default ./extensions)")
    group.add_argument("--envs-dir", default=None, help="where pack environments are built "
                       "(default ~/.cache/nodehost/envs)")
    group.add_argument("--find-links", action="append", default=[], metavar="DIR",
                       help="extra wheel folder for pack dependencies (repeatable)")
    group.add_argument("--offline", action="store_true", help="build pack environments without an index")
    group.add_argument("--extra-model-paths-config", action="extend", nargs="+", default=[], metavar="YAML",
                       help="ComfyUI extra_model_paths.yaml: its custom_nodes folders are loaded too")
    if sandbox:
        group.add_argument("--sandbox", action="store_true",
                           help="run every pack under bubblewrap: no network, only its own folders "
                                "(docs/extensions.md)")


def sandbox_error(args: argparse.Namespace) -> str | None:
    """With --sandbox: why this machine cannot sandbox (bwrap missing, no user namespaces), else None."""
    if not getattr(args, "sandbox", False):
        return None
    from isolate.sandbox import SandboxUnavailable, check_available

    try:
        check_available()
    except SandboxUnavailable as exc:
        return f"--sandbox: {exc}"
    return None


def sandbox_config(enabled: bool, envs: Path, shm: Any, folders: dict[str, Any] | None) -> Any:
    """The loader's sandbox settings: state folders beside the environments, the host's shm folder."""
    from host.extensions.sandbox import SandboxConfig

    shm_dir = getattr(shm, "directory", "/dev/shm")
    return SandboxConfig(enabled, envs.parent / "state", dict(folders or {}),
                         shm_dir if shm_dir != "/dev/shm" else None)


async def load(registry: Registry, args: argparse.Namespace, shm: Any = None,
               folders: dict[str, Any] | None = None) -> tuple[list[Any], list[Any]]:
    """Load the packs of ``--extensions-dir`` into ``registry`` (on the running loop: children belong to it);
    their tensors cross through ``shm`` (the host's one ShmHost)."""
    from host.extensions.loader import load_extensions
    from host.extensions.model_paths import custom_node_dirs
    from host.extensions.packs import NodeDefCache
    from isolate.venv import VenvBuilder

    dirs = [Path(args.extensions_dir)]
    for config in args.extra_model_paths_config:
        dirs += custom_node_dirs(Path(config))
    dirs = [d for d in dirs if d.is_dir()]
    if not dirs:
        return [], []
    if folders is None:  # ext list / doctor: the folders a child defaults to, under the working directory, so a
        base = Path.cwd()  # manifest's [sandbox] read = ["models"] resolves as under `nodehost run`
        folders = {"base_path": str(base), "input": str(base / "input"), "models_dir": str(base / "models")}
    builder = VenvBuilder(Path(args.envs_dir) if args.envs_dir else default_envs_dir())
    envs = Path(args.envs_dir) if args.envs_dir else default_envs_dir()
    return await load_extensions(registry, dirs, builder, find_links=args.find_links, offline=args.offline,
                                 shm=shm, cache=NodeDefCache(envs.parent / "nodedefs"), folders=folders,
                                 sandbox=sandbox_config(bool(getattr(args, "sandbox", False)), envs, shm, folders))


def report(statuses: list[Any], out: Any = None) -> None:
    out = out or sys.stdout
    for status in statuses:
        detail = f"{len(status.nodes)} nodes: {', '.join(status.nodes)}" if status.state == "ready" else status.reason
        sandbox = f" [{status.sandbox}]" if getattr(status, "sandbox", "") else ""
        print(f"{status.name:30} {status.state:9} {detail}{sandbox}", file=out)
        for note in getattr(status, "notes", []):  # skipped requirement lines, missing torchvision, install.py...
            print(f"{'':30}   note: {note}", file=out)


def builtin_registry() -> Registry:
    """A registry holding the core nodes (what a pack's ``nodes`` module offers it), as the server has."""
    import tempfile

    from builtin_nodes import OutputPaths, load_builtin

    registry = Registry()
    temp = Path(tempfile.gettempdir())
    load_builtin(registry, OutputPaths(temp, temp))
    return registry


async def close(runners: list[Any]) -> None:
    for runner in runners:
        await runner.close()


def cmd_ext_list(args: argparse.Namespace) -> int:
    import asyncio

    from isolate.shm import ShmHost

    error = sandbox_error(args)
    if error is not None:
        print(error, file=sys.stderr)
        return 2

    async def main() -> list[Any]:
        with ShmHost(private=args.sandbox) as shm:
            runners, statuses = await load(builtin_registry(), args, shm)
            await close(runners)
        return statuses

    statuses = asyncio.run(main())
    if not statuses:
        print(f"no packs in {args.extensions_dir}")
    report(statuses)
    return 0 if all(s.state != "failed" for s in statuses) else 1


def cmd_ext_new(args: argparse.Namespace) -> int:
    from host.extensions.scaffold import create_pack

    try:
        pack = create_pack(Path(args.extensions_dir), args.name)
    except (ValueError, FileExistsError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"created {pack}: edit __init__.py, then `nodehost ext test {args.name}`")
    return 0


def _env_for(args: argparse.Namespace) -> Any:
    import asyncio

    from host.extensions.loader import pack_env_spec
    from isolate.venv import VenvBuilder

    pack = (Path(args.extensions_dir) / args.name).resolve()
    if not pack.is_dir():
        raise FileNotFoundError(f"no pack {args.name!r} in {args.extensions_dir}")
    builder = VenvBuilder(Path(args.envs_dir) if args.envs_dir else default_envs_dir())
    spec, _ = pack_env_spec(pack, list(args.find_links), args.offline)  # the same environment `ext list` builds
    if getattr(args, "rebuild", False):
        (builder.env_dir(args.name) / ".nodehost-env.json").unlink(missing_ok=True)
    return pack, asyncio.run(builder.ensure(spec))


def cmd_ext_test(args: argparse.Namespace) -> int:
    """Run the pack's tests inside its own environment (the host's SDK and pytest are visible there)."""
    import subprocess

    from isolate.venv import VenvBuildError

    try:
        pack, env = _env_for(args)
    except (FileNotFoundError, VenvBuildError) as exc:
        print(exc, file=sys.stderr)
        return 1
    from isolate.compat_path import COMPAT_DIR

    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    clean["PYTHONPATH"] = str(COMPAT_DIR)  # the modules a pack imports, as in its child
    tests = pack / "tests"
    cmd = [str(env.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
           "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function",
           str(tests if tests.is_dir() else pack)]
    return subprocess.run(cmd, cwd=pack, env=clean).returncode


def cmd_ext_rebuild(args: argparse.Namespace) -> int:
    from isolate.venv import VenvBuildError

    args.rebuild = True
    try:
        _, env = _env_for(args)
    except (FileNotFoundError, VenvBuildError) as exc:
        print(f"{exc}\n{getattr(exc, 'log', '')}", file=sys.stderr)
        return 1
    print(f"{args.name}: environment rebuilt at {env.path}")
    return 0


def cmd_ext_install(args: argparse.Namespace) -> int:
    import shutil

    source = Path(args.path)
    target = Path(args.extensions_dir) / source.name
    if not (source / "__init__.py").is_file():
        print(f"{source} is not a node pack (no __init__.py)", file=sys.stderr)
        return 1
    if target.exists():
        print(f"{target} already exists", file=sys.stderr)
        return 1
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    args.name = source.name
    return cmd_ext_rebuild(args)


def cmd_ext_remove(args: argparse.Namespace) -> int:
    import shutil

    from isolate.venv import VenvBuilder

    pack = Path(args.extensions_dir) / args.name
    if not pack.is_dir():
        print(f"no pack {args.name!r} in {args.extensions_dir}", file=sys.stderr)
        return 1
    shutil.rmtree(pack)
    env = VenvBuilder(Path(args.envs_dir) if args.envs_dir else default_envs_dir(), uv="uv").env_dir(args.name)
    shutil.rmtree(env, ignore_errors=True)
    print(f"removed {args.name}")
    return 0


def cmd_ext_doctor(args: argparse.Namespace) -> int:
    """Load one pack (as `ext list` does) and print its environment, the host modules it lacks, its nodes."""
    import asyncio
    import shutil
    import tempfile

    from host.extensions.doctor import report
    from host.extensions.loader import pack_env_spec

    pack = Path(args.extensions_dir) / args.name
    if not pack.is_dir():
        print(f"no pack {args.name!r} in {args.extensions_dir}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as only:  # an extensions folder holding just this pack (and its manifest)
        os.symlink(pack.resolve(), Path(only) / args.name)
        manifest = Path(args.extensions_dir) / f"{args.name}.deps.toml"
        if manifest.is_file():
            shutil.copy(manifest, only)
        one = argparse.Namespace(**{**vars(args), "extensions_dir": only, "extra_model_paths_config": []})

        registry = builtin_registry()
        core = set(registry.nodes)

        async def main() -> list[Any]:
            runners, statuses = await load(registry, one)
            await close(runners)
            return statuses

        status = asyncio.run(main())[0]
        status.path = pack
        _, reqs = pack_env_spec(pack.resolve(), list(args.find_links), args.offline)
        print("\n".join(report(status, reqs, core)))
    return 0 if status.state == "ready" else 1


def add_ext_parser(sub: Any) -> None:
    ext = sub.add_parser("ext", help="node packs (extensions)")
    ext_sub = ext.add_subparsers(dest="ext_command", required=True)
    listing = ext_sub.add_parser("list", help="each pack's state: ready (its nodes), failed (why), disabled")
    add_extension_flags(listing, sandbox=True)
    listing.set_defaults(func=cmd_ext_list)
    for name, func, help_text in (("new", cmd_ext_new, "scaffold a pack (a v1 node, a v3 node, a test)"),
                                  ("test", cmd_ext_test, "run a pack's tests inside its own environment"),
                                  ("rebuild", cmd_ext_rebuild, "rebuild a pack's environment from scratch"),
                                  ("remove", cmd_ext_remove, "delete a pack and its environment"),
                                  ("doctor", cmd_ext_doctor, "a pack's environment, what it lacks, its nodes")):
        cmd = ext_sub.add_parser(name, help=help_text)
        cmd.add_argument("name")
        add_extension_flags(cmd)
        cmd.set_defaults(func=func)
    install = ext_sub.add_parser("install", help="copy a pack folder into the extensions folder and build it")
    install.add_argument("path")
    add_extension_flags(install)
    install.set_defaults(func=cmd_ext_install)
