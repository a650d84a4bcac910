"""Opening model files: lazy safetensors, weights-only pickles, typed errors naming the file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from host.models.checkpoint import SafetensorsStateDict, open_state_dict
from host.models.errors import CorruptModelFile, ModelFileError, ModelFileNotFound, UnsafePickle


def _tensors() -> dict[str, torch.Tensor]:
    return {"a.weight": torch.arange(6, dtype=torch.float16).reshape(2, 3), "b": torch.ones(4)}


def test_safetensors_lazy_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file(_tensors(), str(path), metadata={"k": "v"})
    sd = open_state_dict(path)
    assert isinstance(sd, SafetensorsStateDict) and sd._handle is None  # nothing read yet
    assert sorted(sd) == ["a.weight", "b"] and sd.shape("a.weight") == (2, 3) and sd.nbytes("a.weight") == 12
    assert sd.metadata == {"k": "v"}
    assert torch.equal(sd["a.weight"], _tensors()["a.weight"]) and sd["a.weight"].dtype == torch.float16


def test_pickle_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": _tensors(), "global_step": 3}, path)
    sd = open_state_dict(path)
    assert sorted(sd) == ["a.weight", "b"] and torch.equal(sd["b"], torch.ones(4))


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_with_code_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {"x": torch.zeros(1)}, "payload": _Evil()}, f)
    with pytest.raises(UnsafePickle, match="evil.ckpt.*carries code"):
        open_state_dict(path)
    path2 = tmp_path / "evil2.pt"
    torch.save({"x": torch.zeros(1), "payload": _Evil()}, path2)
    with pytest.raises(UnsafePickle, match="evil2.pt"):
        open_state_dict(path2)


@pytest.mark.parametrize("cut", [4, 20, -10])
def test_truncated_safetensors(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "t.safetensors"
    save_file(_tensors(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CorruptModelFile, match="t.safetensors"):
        open_state_dict(path)


def test_garbage_files(tmp_path: Path) -> None:
    st = tmp_path / "g.safetensors"
    st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + b"\0" * 32)
    with pytest.raises(CorruptModelFile, match="g.safetensors"):
        open_state_dict(st)
    ck = tmp_path / "g.ckpt"
    ck.write_bytes(os.urandom(200))
    with pytest.raises(ModelFileError, match="g.ckpt"):
        open_state_dict(ck)


@pytest.mark.parametrize("data", [bytes(range(200, 256)) * 4, bytes([200]) * 64])
def test_bytes_that_are_no_pickle_are_corrupt_not_unsafe(tmp_path: Path, data: bytes) -> None:
    """Garbage read by the weights-only unpickler is a corrupt file; only a refused global is 'carries code'."""
    path = tmp_path / "noise.pth"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match="noise.pth") as info:
        open_state_dict(path)
    assert not isinstance(info.value, UnsafePickle), info.value
    assert isinstance(info.value, CorruptModelFile)


def test_truncated_pickle(tmp_path: Path) -> None:
    path = tmp_path / "t.pt"
    torch.save(_tensors(), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptModelFile, match="t.pt"):
        open_state_dict(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFound, match="nope.safetensors"):
        open_state_dict(tmp_path / "nope.safetensors")
