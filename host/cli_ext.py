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


def add_extension_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("extensions")
    group.add_argument("--extensions-dir", default="extensions",
                       help="folder of node packs, each run in its own environment (default ./extensions)")
    group.add_argument("--envs-dir", default=None, help="where pack environments are built "
                       "(default ~/.cache/nodehost/envs)")
    group.add_argument("--find-links", action="append", default=[], metavar="DIR",
                       help="extra wheel folder for pack dependencies (repeatable)")
    group.add_argument("--offline", action="store_true", help="build pack environments without an index")


async def load(registry: Registry, args: argparse.Namespace, shm: Any = None,
               folders: dict[str, Any] | None = None) -> tuple[list[Any], list[Any]]:
    """Load the packs of ``--extensions-dir`` into ``registry`` (on the running loop: children belong to it);
    their tensors cross through ``shm`` (the host's one ShmHost)."""
    from host.extensions.loader import load_extensions
    from host.extensions.packs import NodeDefCache
    from isolate.venv import VenvBuilder

    ext_dir = Path(args.extensions_dir)
    if not ext_dir.is_dir():
        return [], []
    builder = VenvBuilder(Path(args.envs_dir) if args.envs_dir else default_envs_dir())
    envs = Path(args.envs_dir) if args.envs_dir else default_envs_dir()
    return await load_extensions(registry, ext_dir, builder, find_links=args.find_links, offline=args.offline,
                                 shm=shm, cache=NodeDefCache(envs.parent / "nodedefs"), folders=folders)


def report(statuses: list[Any], out: Any = None) -> None:
    out = out or sys.stdout
    for status in statuses:
        detail = ", ".join(status.nodes) if status.state == "ready" else status.reason
        print(f"{status.name:30} {status.state:9} {detail}", file=out)


async def close(runners: list[Any]) -> None:
    for runner in runners:
        await runner.close()


def cmd_ext_list(args: argparse.Namespace) -> int:
    import asyncio

    async def main() -> list[Any]:
        runners, statuses = await load(Registry(), args)
        await close(runners)
        return statuses

    statuses = asyncio.run(main())
    if not statuses:
        print(f"no packs in {args.extensions_dir}")
    report(statuses)
    return 0 if all(s.state != "failed" for s in statuses) else 1


def add_ext_parser(sub: Any) -> None:
    ext = sub.add_parser("ext", help="node packs (extensions)")
    ext_sub = ext.add_subparsers(dest="ext_command", required=True)
    listing = ext_sub.add_parser("list", help="each pack's state: ready (its nodes), failed (why), disabled")
    add_extension_flags(listing)
    listing.set_defaults(func=cmd_ext_list)
