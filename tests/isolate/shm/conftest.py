"""Fixtures for the shared-memory tests: a small-slab host, and real child processes (shm_child.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from isolate.shm import ShmHost, TensorHandle

CHILD = Path(__file__).with_name("shm_child.py")
SHM_DIR = "/dev/shm"


def shm_files(prefix: str) -> set[str]:
    return {name for name in os.listdir(SHM_DIR) if name.startswith(prefix + "-")}


class Child:
    """A running shm_child.py: `call(op, **args)` sends one request and returns its reply."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(msgspec.json.encode({"op": op, **args}) + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child exited with {self.proc.wait()}")
        reply = msgspec.json.decode(line)
        if "error" in reply:
            raise AssertionError(f"child failed:\n{reply['error']}")
        return reply["ok"]

    def handle(self, op: str, **args: Any) -> TensorHandle:
        return msgspec.convert(self.call(op, **args), TensorHandle)

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


@pytest.fixture
def spawn() -> Iterator[Callable[[], Child]]:
    children: list[Child] = []

    def start() -> Child:
        children.append(Child())
        return children[-1]

    yield start
    for child in children:
        child.close()


@pytest.fixture
def child(spawn: Callable[[], Child]) -> Child:
    return spawn()


@pytest.fixture(scope="module")
def reader() -> Iterator[Child]:
    """One child per module for the tests that only read (each child costs an `import torch`)."""
    c = Child()
    yield c
    c.close()


@pytest.fixture
def host(shm_prefix: str) -> Iterator[ShmHost]:
    """A host with 1 MiB slabs and no pool, so a freed segment leaves /dev/shm at once."""
    before = shm_files(shm_prefix)
    h = ShmHost(slab_bytes=1 << 20, pool_bytes=0)
    yield h
    h.close()
    assert shm_files(shm_prefix) == before
