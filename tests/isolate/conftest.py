"""Session-wide fixtures for tests/isolate: a private shared-memory name root, and the leak check."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

SHM_DIR = "/dev/shm"
ENV_PREFIX = "NODEHOST_SHM_PREFIX"  # read by isolate.shm (and inherited by every child process)


@pytest.fixture(scope="session", autouse=True)
def shm_prefix() -> Iterator[str]:
    """Segments made during the session are named `nhtest{pid}-...`; at the end none may remain."""
    prefix = f"nhtest{os.getpid()}"
    previous = os.environ.get(ENV_PREFIX)
    os.environ[ENV_PREFIX] = prefix
    try:
        yield prefix
    finally:
        if previous is None:
            os.environ.pop(ENV_PREFIX, None)
        else:
            os.environ[ENV_PREFIX] = previous
    if not os.path.isdir(SHM_DIR):
        return
    leaked = sorted(name for name in os.listdir(SHM_DIR) if name.startswith(prefix + "-"))
    for name in leaked:
        os.unlink(os.path.join(SHM_DIR, name))
    assert not leaked, f"shared-memory segments leaked: {leaked}"
