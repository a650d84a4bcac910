"""ShmHost(private=True): segments in the host's own 0700 folder (what a sandbox binds alone), opened by a child
through $NODEHOST_SHM_DIR, the folder gone at close; a SIGKILLed host's folder is removed by the next host."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np

from isolate.shm import ShmClient, ShmHost, cleanup_stale

FAKE_HOST = """
import sys, numpy as np
from isolate.shm import ShmHost
host = ShmHost(slab_bytes=1 << 20, private=True)
h = host.export(np.ones(10), owner="x")
print(host.directory, h.segment, flush=True)
sys.stdin.read()
"""


def test_private_segments_live_in_the_hosts_folder(monkeypatch) -> None:
    with ShmHost(slab_bytes=1 << 20, private=True) as host:
        folder = host.directory
        assert os.path.dirname(folder) == "/dev/shm" and stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        h = host.export(np.arange(10, dtype=np.float32), owner="child")
        assert os.listdir(folder) == [h.segment] and not os.path.exists(f"/dev/shm/{h.segment}")
        monkeypatch.setenv("NODEHOST_SHM_DIR", folder)
        client = ShmClient()
        view = client.open(h)
        assert view.tolist() == list(range(10))
        del view
        with ShmHost(private=True) as other:
            assert other.directory != folder
        assert os.path.isdir(folder)  # another host closing leaves this one's folder alone
    assert not os.path.exists(folder)


def test_a_dead_hosts_private_folder_is_removed() -> None:
    with subprocess.Popen([sys.executable, "-c", FAKE_HOST], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        folder, segment = proc.stdout.readline().decode().split()
        proc.kill()
    assert os.path.exists(os.path.join(folder, segment))
    removed = cleanup_stale()
    assert f"{os.path.basename(folder)}/{segment}" in removed and not os.path.exists(folder)
