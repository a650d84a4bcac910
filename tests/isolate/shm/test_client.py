"""ShmClient against a host in the same process: carving, zero-copy export, what it reports released."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import numpy as np
import pytest
import torch

from isolate.shm import ShmClient, ShmError, ShmHost, SlabExhausted


def test_export_of_mapped_tensor_does_not_carve(host: ShmHost) -> None:
    client = ShmClient()
    h = host.export(torch.arange(12.0).reshape(3, 4), owner="kid")
    view = client.open(h)
    assert client.export(view) == h
    assert client.export(view[1:, ::2]) == msgspec.structs.replace(
        h, offset=h.offset + 16, shape=[2, 2], strides=[4, 2], nbytes=16
    )
    assert client.stats()["grants"] == []  # nothing carved (there is not even a grant)


def test_carves_are_aligned_and_exhaust(host: ShmHost) -> None:
    client = ShmClient()
    with pytest.raises(SlabExhausted) as info:
        client.export(torch.ones(3))
    assert info.value.needed == 12
    grant = host.grant_slab("kid")
    client.add_grant(grant)
    offsets = [client.export(torch.ones(3)).offset for _ in range(3)]
    assert offsets == [0, 64, 128]
    t = client.empty((2, 2), torch.int8)
    assert client.export(t).offset == 192
    with pytest.raises(SlabExhausted) as info:
        client.empty((1 << 20,), torch.float32)
    assert info.value.needed == 4 << 20
    del t


def test_grant_output_is_read_by_host(host: ShmHost) -> None:
    client = ShmClient()
    client.add_grant(host.grant_slab("kid"))
    a = np.arange(10, dtype=np.int16)[::-2]
    h = client.export(a)
    assert h.kind == "numpy" and host.open(h).tolist() == a.tolist()


def test_take_released_reports_each_open_once_its_views_die(host: ShmHost) -> None:
    client = ShmClient()
    h1 = host.export(torch.ones(4), owner="kid")
    h2 = host.export(torch.zeros(4), owner="kid")
    v1, v1b, v2 = client.open(h1), client.open(h1), client.open(h2)
    part = v1[1:]
    del v1, v2
    assert client.take_released() == [h2]
    del v1b
    assert client.take_released() == [h1]
    del part
    assert client.take_released() == [h1]
    assert client.take_released() == []


def test_retired_grant_is_released_after_its_views(host: ShmHost) -> None:
    client = ShmClient(max_grants=1)
    g1, g2 = host.grant_slab("kid"), host.grant_slab("kid")
    client.add_grant(g1)
    out = client.empty((4,), torch.float32)
    client.add_grant(g2)  # g1 retired, but `out` still lives in it
    assert client.take_released() == []
    del out
    assert client.take_released() == [g1.segment]
    host.release(g1.segment, "kid")
    assert host.stats().grants == {"kid": [g2.segment]}


def test_idle_mappings_are_cached_then_dropped(host: ShmHost) -> None:
    client = ShmClient(cache_bytes=1 << 20)
    hs = [host.export(torch.ones(1 << 18), owner="kid") for _ in range(3)]  # 1 MiB each: three segments
    for h in hs:
        assert client.open(h).sum().item() == 1 << 18
    assert client.stats()["mapped"] == [hs[-1].segment]
    client.close()


def test_bad_and_missing_segments(host: ShmHost) -> None:
    client = ShmClient()
    h = host.export(torch.ones(2), owner="kid")
    for name in ("../etc/passwd", "x", "nhtest-1-1"):
        with pytest.raises(ShmError):
            client.open(msgspec.structs.replace(h, segment=name))
    with pytest.raises(ShmError):
        client.open(msgspec.structs.replace(h, offset=(1 << 20) - 4))  # past the end of the segment


def test_numpy_child_does_not_import_torch(host: ShmHost) -> None:
    h = host.export(np.arange(5, dtype=np.float64), owner="kid")
    code = (
        "import sys, msgspec; from isolate.shm import ShmClient, TensorHandle;"
        "a = ShmClient().open(msgspec.json.decode(sys.stdin.buffer.read(), type=TensorHandle));"
        "print(a.tolist(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], input=msgspec.json.encode(h), capture_output=True, check=True)
    assert out.stdout.decode().strip() == "[0.0, 1.0, 2.0, 3.0, 4.0] False"
