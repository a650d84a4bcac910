"""cleanup_stale: a host killed with SIGKILL leaves segments; a new host removes exactly those."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from isolate.shm import ShmHost, cleanup_stale
from isolate.shm._segment import pid_alive

SHM_DIR = "/dev/shm"
# a "host" process: makes two segments (an arena slab and a grant), prints their names, then waits on stdin
FAKE_HOST = """
import sys, numpy as np
from isolate.shm import ShmHost
host = ShmHost(slab_bytes=1 << 20)
h = host.export(np.ones(10), owner="x")
g = host.grant_slab("x")
print(h.segment, g.segment, flush=True)
sys.stdin.read()
host.close()
"""


def start_fake_host() -> tuple[subprocess.Popen[bytes], list[str]]:
    proc = subprocess.Popen([sys.executable, "-c", FAKE_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    names = proc.stdout.readline().decode().split()
    assert len(names) == 2 and all(os.path.exists(os.path.join(SHM_DIR, n)) for n in names)
    return proc, names


def stop(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def test_cleanup_removes_exactly_a_dead_hosts_segments(host: ShmHost) -> None:
    mine = host.export(torch.ones(4), owner="me").segment
    dead, dead_names = start_fake_host()
    live, live_names = start_fake_host()
    try:
        dead.kill()
        dead.wait()
        assert sorted(cleanup_stale()) == sorted(dead_names)
        assert not any(os.path.exists(os.path.join(SHM_DIR, n)) for n in dead_names)
        assert all(os.path.exists(os.path.join(SHM_DIR, n)) for n in [*live_names, mine])
        assert cleanup_stale() == []
    finally:
        stop(dead)
        stop(live)
    assert not any(os.path.exists(os.path.join(SHM_DIR, n)) for n in live_names)  # closed by its host


def test_cleanup_ignores_other_roots(host: ShmHost, shm_prefix: str) -> None:
    path = os.path.join(SHM_DIR, f"{shm_prefix}x-999999999-0")  # another root, and a pid that cannot exist
    with open(path, "wb"):
        pass
    try:
        assert cleanup_stale() == []
        assert cleanup_stale(f"{shm_prefix}x") == [os.path.basename(path)]
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_zombie_counts_as_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while pid_alive(proc.pid):  # not reaped yet: only its /proc state says it is a zombie
        if time.monotonic() > deadline:
            pytest.fail("a zombie still counts as alive")
        time.sleep(0.01)
    assert proc.wait() == 0
    assert pid_alive(os.getpid())
