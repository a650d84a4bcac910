"""Host <-> child through real subprocesses (shm_child.py): values, shared writes, grants, refcounts."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import msgspec
import numpy as np
import pytest
import torch

from isolate.shm import ShmHost, TensorHandle

if TYPE_CHECKING:
    from conftest import Child

SHM_DIR = "/dev/shm"

DTYPES = ["float32", "float16", "bfloat16", "float64", "uint8", "int8", "int32", "int64", "bool"]


def sample(dtype: str, shape: tuple[int, ...] = (2, 3, 4)) -> torch.Tensor:
    n = int(np.prod(shape))
    if dtype == "bool":
        return (torch.arange(n) % 3 == 0).reshape(shape)
    return (torch.arange(n) - (0 if dtype == "uint8" else n // 2)).to(getattr(torch, dtype)).reshape(shape)


def test_child_sees_host_tensor(host: ShmHost, child: Child) -> None:
    t = torch.linspace(-1, 1, 12).reshape(3, 4)
    seen = child.call("open", handle=host.export(t))
    assert seen["type"] == "Tensor" and seen["shape"] == [3, 4] and seen["values"] == t.tolist()


def test_child_write_is_seen_by_host(host: ShmHost, child: Child) -> None:
    t = host.empty((4, 5), torch.float32)
    t.zero_()
    child.call("fill", handle=host.export(t), value=7.5)
    assert torch.equal(t, torch.full((4, 5), 7.5))  # zero copy: the host's own tensor changed


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_round_trips(host: ShmHost, reader: Child, dtype: str) -> None:
    t = sample(dtype)
    seen = reader.call("open", handle=host.export(t))
    assert (seen["dtype"], seen["shape"], seen["values"]) == (dtype, [2, 3, 4], t.tolist())


@pytest.mark.parametrize("view", ["transposed", "step", "offset_step"])
def test_non_contiguous_round_trips(host: ShmHost, reader: Child, view: str) -> None:
    base = host.empty((4, 6, 5), torch.float32)
    base.copy_(torch.arange(120, dtype=torch.float32).reshape(4, 6, 5))
    fresh = torch.arange(120, dtype=torch.float32).reshape(4, 6, 5)
    pick = {
        "transposed": lambda x: x.transpose(0, 2),
        "step": lambda x: x[:, ::2],
        "offset_step": lambda x: x[1:, 1::3, ::2],
    }[view]
    for t in (pick(base), pick(fresh)):  # born shared (no copy) and fresh (one copy)
        seen = reader.call("open", handle=host.export(t))
        assert seen["values"] == t.tolist() and seen["shape"] == list(t.shape)
    h = host.export(pick(base))
    assert h.strides == list(pick(base).stride())  # strides and offset kept when nothing is copied


@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_zero_size_round_trips(host: ShmHost, reader: Child, kind: str) -> None:
    t = torch.empty(0, 3, dtype=torch.float16) if kind == "torch" else np.empty((2, 0), np.int32)
    seen = reader.call("open", handle=host.export(t))
    assert seen["shape"] == list(t.shape) and seen["values"] == t.tolist()
    assert seen["type"] == ("Tensor" if kind == "torch" else "ndarray")


def test_numpy_comes_back_as_numpy(host: ShmHost, reader: Child) -> None:
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[::-1, ::2]  # negative and stepped strides
    seen = reader.call("open", handle=host.export(a))
    assert seen["type"] == "ndarray" and seen["dtype"] == "float32" and seen["values"] == a.tolist()
    shared = host.empty((4, 6), "int16").numpy()
    shared[...] = np.arange(24).reshape(4, 6)
    h = host.export(shared[::-1])
    assert h.kind == "numpy" and h.strides == [-6, 1]
    assert reader.call("open", handle=h)["values"] == shared[::-1].tolist()


def test_born_shared_exports_without_copy(host: ShmHost, child: Child) -> None:
    t = host.empty((64, 64), "bfloat16")
    t.fill_(0.5)
    before = host.stats()
    h = host.export(t)
    after = host.stats()
    assert (after.copies, after.allocations_total) == (before.copies, before.allocations_total)
    assert host.open(h).data_ptr() == t.data_ptr()
    child.call("fill", handle=h, value=2)
    assert bool((t == 2).all())


def test_child_exports_into_granted_slab(host: ShmHost, child: Child) -> None:
    grant = host.grant_slab("kid")
    child.call("grant", grant=grant)
    out = child.call("export", dtype="int64", shape=[3, 5], transpose=True)
    h = msgspec.convert(out["handle"], TensorHandle)
    assert (h.segment, h.strides) == (grant.segment, [1, 5])  # a dense transposed tensor keeps its layout
    assert host.open(h).tolist() == out["values"]
    assert host.stats().copies == 0  # the child copied once; the host reads in place


def test_child_born_shared_output_crosses_without_copy(host: ShmHost, child: Child) -> None:
    grant = host.grant_slab("kid")
    child.call("grant", grant=grant)
    out = child.call("empty", shape=[8, 4], dtype="float16", value=3, slice=True)
    assert out["carved_after"] is False  # export found the tensor in the grant: nothing carved, nothing copied
    h = msgspec.convert(out["handle"], TensorHandle)
    assert (h.segment, h.offset, h.shape, h.strides) == (grant.segment, 2, [8, 3], [4, 1])
    assert host.open(h).tolist() == [[3.0] * 3] * 8


def test_slab_exhausted_then_bigger_grant(host: ShmHost, child: Child) -> None:
    child.call("grant", grant=host.grant_slab("kid"))
    need = 3 << 20  # more than the 1 MiB slab
    assert child.call("exhaust", nbytes=need) == {"needed": need}
    child.call("grant", grant=host.grant_slab("kid", min_bytes=need))
    assert child.call("exhaust", nbytes=need) == {"needed": None}
    assert len(host.stats().grants["kid"]) == 2


def test_release_to_zero_unlinks_segment(host: ShmHost, child: Child) -> None:
    t = torch.ones(1 << 19)  # 2 MiB: a dedicated segment
    h = host.export(t, owner="kid")
    del t
    child.call("hold", handle=h)
    path = os.path.join(SHM_DIR, h.segment)
    assert os.path.exists(path)
    released = child.call("drop")
    assert [r["segment"] for r in released] == [h.segment]
    host.release(h, "kid")
    assert not os.path.exists(path)
    assert host.stats().segments == 0


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_release_owner_frees_dead_childs_holdings(host: ShmHost, child: Child, how: str) -> None:
    h = host.export(torch.arange(10.0), owner=f"kid{child.pid}")
    grant = host.grant_slab(f"kid{child.pid}")
    child.call("grant", grant=grant)
    child.call("hold", handle=h)
    if how == "sigkill":
        child.kill()
    else:
        with pytest.raises(RuntimeError, match="exited with 3"):
            child.call("exit", code=3)
    paths = [os.path.join(SHM_DIR, name) for name in (h.segment, grant.segment)]
    assert all(os.path.exists(p) for p in paths)
    assert host.release_owner(f"kid{child.pid}") == 2
    assert not any(os.path.exists(p) for p in paths)
    assert host.stats().segments == 0
