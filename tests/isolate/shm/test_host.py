"""ShmHost in one process: export with and without copy, born-shared tensors, lifetimes, pool, errors."""

from __future__ import annotations

import gc
import os
import re
import stat
import threading

import msgspec
import numpy as np
import pytest
import torch

from isolate.shm import ShmError, ShmHost, TensorHandle

SHM_DIR = "/dev/shm"
DTYPES = ["float32", "float16", "bfloat16", "float64", "complex64", "uint8", "int8", "int16", "int64", "bool"]


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(SHM_DIR, name))


def test_names_and_permissions(host: ShmHost, shm_prefix: str) -> None:
    h = host.export(torch.ones(3), owner="t")
    assert re.fullmatch(rf"{shm_prefix}-{os.getpid()}-\d+", h.segment)
    assert stat.S_IMODE(os.stat(os.path.join(SHM_DIR, h.segment)).st_mode) == 0o600
    grant = host.grant_slab("t")
    assert stat.S_IMODE(os.stat(os.path.join(SHM_DIR, grant.segment)).st_mode) == 0o600


def test_handle_is_json_and_carries_no_data(host: ShmHost) -> None:
    h = host.export(torch.arange(1000.0), owner="t")
    raw = msgspec.json.encode(h)
    assert len(raw) < 200 and msgspec.json.decode(raw, type=TensorHandle) == h


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_opens_exactly(host: ShmHost, dtype: str) -> None:
    t = (torch.arange(-6, 6) * 3).to(getattr(torch, dtype)).reshape(3, 4)
    h = host.export(t)
    assert h.dtype == dtype and h.nbytes == t.numel() * t.element_size()
    assert torch.equal(host.open(h), t)


def test_export_of_shared_tensor_does_not_copy(host: ShmHost) -> None:
    big = host.empty((3 << 20,), torch.float32)  # 12 MiB: a dedicated segment
    for t in (big, big[5:], big.view(3, -1).T, big[1::7]):
        before = host.stats()
        h = host.export(t)
        assert host.stats() == before  # no allocation, no copy
        view = host.open(h)
        assert view.data_ptr() == t.data_ptr() and view.stride() == t.stride() and view.shape == t.shape


def test_received_tensor_exports_without_copy(host: ShmHost) -> None:
    h = host.export(torch.arange(8.0), owner="t")
    received = host.open(h)
    assert host.export(received[2:]) == msgspec.structs.replace(h, offset=h.offset + 8, shape=[6], nbytes=24)
    assert host.stats().copies == 1


def test_fresh_export_copies_once_and_keeps_dense_layouts(host: ShmHost) -> None:
    t = torch.arange(24.0).reshape(2, 3, 4)
    cl = t.permute(0, 2, 1)  # dense, not contiguous: layout kept
    stepped = t[:, ::2]  # not dense: becomes contiguous
    assert host.export(cl).strides == list(cl.stride())
    assert host.export(stepped).strides == [8, 4, 1]
    assert host.stats().copies == 2 and host.stats().copied_bytes == (24 + 16) * 4


def test_copy_lives_while_source_lives(host: ShmHost) -> None:
    t = torch.ones(100)
    h = host.export(t)
    assert host.stats().allocations == 1
    del t
    gc.collect()
    assert host.stats().allocations == 0
    with pytest.raises(ShmError):
        host.open(h)


def test_owner_reference_outlives_source(host: ShmHost) -> None:
    h = host.export(torch.full((10,), 4.0), owner="kid")
    gc.collect()
    assert host.open(h).tolist() == [4.0] * 10
    with pytest.raises(ShmError, match="holds no reference"):
        host.release(h, "someone else")
    host.release(h, "kid")
    assert host.stats().allocations == 0 and not exists(h.segment)
    with pytest.raises(ShmError):
        host.acquire(h, "kid")  # the bytes are gone


def test_host_views_keep_allocation_alive(host: ShmHost) -> None:
    t = host.empty((4, 4), torch.int64)
    name = host.export(t).segment
    part = t[1:].T  # a derived view keeps the bytes, not the first tensor
    as_np = part.numpy()
    del t, part
    assert host.stats().views == 1 and exists(name)
    del as_np  # reclaimed at once: the finalizer finds the lock free
    assert not exists(name) and host.stats().views == 0


def test_view_dropped_in_another_thread(host: ShmHost) -> None:
    box = [host.empty((16,), torch.uint8)]
    name = host.export(box[0]).segment
    thread = threading.Thread(target=box.clear)
    thread.start()
    thread.join()
    host.collect()
    assert not exists(name)


def test_refcounts_by_owner(host: ShmHost) -> None:
    t = host.empty((8,), torch.float32)
    h = host.export(t)
    host.acquire(h, "a")
    host.acquire(h, "a")
    host.acquire(h.segment, "b")  # a whole segment
    assert host.stats().refs == {"a": 2, "b": 1}
    del t
    host.release(h, "a")
    assert host.release_owner("a") == 1 and host.release_owner("b") == 1
    assert host.stats().segments == 0 and not exists(h.segment)
    with pytest.raises(ShmError):
        host.release(h.segment, "b")


def test_pool_reuses_warm_segments() -> None:
    with ShmHost(slab_bytes=1 << 20, pool_bytes=4 << 20) as host:
        first = host.export(torch.ones(10), owner="a")
        host.release(first, "a")
        assert host.stats().pooled == 1 and exists(first.segment)  # kept warm
        second = host.export(torch.ones(10), owner="a")
        assert second.segment == first.segment and host.stats().pooled == 0
        host.reserve(3 << 20)
        assert host.stats().pooled == 1
        big = host.export(torch.ones(3 << 18), owner="a")  # 3 MiB dedicated: taken from the pool
        assert host.stats().pooled == 0 and host.stats().bytes == 4 << 20
        assert host.open(big).sum().item() == 3 << 18
        names = [first.segment, big.segment]
    assert not any(exists(n) for n in names)


def test_slab_is_shared_by_small_allocations(host: ShmHost) -> None:
    hs = [host.export(torch.ones(100), owner="a") for _ in range(5)]
    assert len({h.segment for h in hs}) == 1
    assert sorted(h.offset for h in hs) == [0, 448, 896, 1344, 1792]  # 400 bytes, 64-aligned
    for h in hs[1:]:
        host.release(h, "a")
    assert exists(hs[0].segment)
    host.release(hs[0], "a")
    assert not exists(hs[0].segment)


def test_grants_are_tracked(host: ShmHost) -> None:
    g1 = host.grant_slab("kid")
    g2 = host.grant_slab("kid", min_bytes=3 << 20)
    assert g1.size == 1 << 20 and g2.size == 3 << 20
    assert host.stats().grants == {"kid": sorted([g1.segment, g2.segment])}
    host.release(g1.segment, "kid")
    assert not exists(g1.segment) and exists(g2.segment)
    assert host.release_owner("kid") == 1 and not exists(g2.segment)


def test_open_rejects_foreign_stale_and_out_of_range_handles(host: ShmHost) -> None:
    h = host.export(torch.ones(4), owner="a")
    bad = [
        msgspec.structs.replace(h, segment="elsewhere-1-1"),
        msgspec.structs.replace(h, shape=[400000], nbytes=1600000),
        msgspec.structs.replace(h, strides=[-1]),
        msgspec.structs.replace(h, dtype="float8"),
        msgspec.structs.replace(h, nbytes=3),
    ]
    for handle in bad:
        with pytest.raises(ShmError):
            host.open(handle)
    host.release(h, "a")
    with pytest.raises(ShmError):
        host.open(h)


def test_conjugate_view_is_resolved_by_a_copy(host: ShmHost) -> None:
    t = host.empty((3,), torch.complex64)
    t.copy_(torch.tensor([1 + 2j, 3 - 1j, 0 + 1j]))
    c = t.conj()  # a conjugate bit on the same bytes: sending the bytes alone would lose it
    h = host.export(c)
    assert host.stats().copies == 1 and torch.equal(host.open(h), c.resolve_conj())


def test_zero_size_and_unsupported(host: ShmHost) -> None:
    h = host.export(torch.empty(2, 0, dtype=torch.bool))
    assert (h.segment, h.nbytes, h.shape) == ("", 0, [2, 0])
    assert host.open(h).shape == (2, 0) and host.empty((0, 5)).shape == (0, 5)
    host.acquire(h, "a")  # nothing to count
    with pytest.raises(TypeError):
        host.export([1, 2, 3])
    with pytest.raises(TypeError):
        host.export(np.array(["text"]))
    with pytest.raises(TypeError):
        host.export(torch.ones(2).to_sparse())


def test_close_is_idempotent_and_views_survive(host: ShmHost) -> None:
    t = host.empty((1000,), torch.float32)
    t.fill_(1.0)
    name = host.export(t).segment
    host.close()
    host.close()
    assert not exists(name)
    assert t.sum().item() == 1000.0  # the mapping lives until its last view dies: no SIGSEGV
    with pytest.raises(ShmError, match="closed"):
        host.export(torch.ones(1))
    del t
    gc.collect()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensor_is_copied_to_shared_memory(host: ShmHost) -> None:
    t = torch.arange(10.0, device="cuda")
    h = host.export(t, owner="a")
    assert host.stats().copies == 1 and host.open(h).tolist() == t.cpu().tolist()
