"""For tests that run a pack both plainly and under bubblewrap: the loader's sandbox settings and the private
shared memory a sandboxing host uses, or a skip with the reason where bwrap cannot run here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from host.extensions.sandbox import SandboxConfig
from isolate.sandbox import SandboxUnavailable, check_available
from isolate.shm import ShmHost


def sandbox_setup(sandboxed: bool, tmp_path: Path, folders: dict[str, Any] | None = None,
                  ) -> tuple[SandboxConfig | None, ShmHost | None]:
    if not sandboxed:
        return None, None
    try:
        check_available()
    except SandboxUnavailable as exc:
        pytest.skip(f"no sandbox here: {exc}")
    shm = ShmHost(private=True)
    return SandboxConfig(True, tmp_path / "state", dict(folders or {}), shm.directory), shm
