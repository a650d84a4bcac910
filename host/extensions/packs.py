"""Starting a pack: its child reads the node definitions, the registry binds them to the pack's runner."""

from __future__ import annotations

import sys
from pathlib import Path

from host.extensions.remote import RemoteRunner
from host.registry import Registry
from isolate.protocol import PackInfo
from isolate.shm import ShmHost


async def start_pack(registry: Registry, pack_dir: Path, name: str | None = None,
                     python: str = sys.executable, shm: ShmHost | None = None) -> tuple[RemoteRunner, PackInfo]:
    """Spawn the pack's child, register its nodes (name clashes are recorded conflicts) and return both.

    A pack that fails to import registers nothing; its reason is in ``PackInfo.failures`` and in
    ``registry.failures`` under ``<pack>:<node or <import>>``."""
    name = name or pack_dir.name
    runner = RemoteRunner(name, pack_dir, python, shm=shm)
    info = await runner.start()
    for nodedef in info.nodes:
        registry.add(nodedef, runner)
    for what, reason in info.failures.items():
        registry.failures[f"{name}:{what}"] = reason
    return runner, info
