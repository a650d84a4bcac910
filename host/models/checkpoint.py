"""Open a model file as a lazy ``Mapping[str, Tensor]``.

``.safetensors``/``.sft``: the header is read at once (keys, shapes, dtypes); a tensor is read from the
memory-mapped file (``safe_open``) when it is first asked for. Pickles (``.ckpt``/``.pt``/``.pth``/``.bin``)
are read only through ``torch.load(weights_only=True)``: one that carries code is refused.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from host.models.errors import CorruptModelFile, ModelFileNotFound, UnsafePickle

SAFETENSORS_EXTENSIONS = frozenset({".safetensors", ".sft"})
_ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
              "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}
#: a header bigger than this is not a safetensors file
_MAX_HEADER = 100 * 1024 * 1024


class TensorInfo:
    """What a safetensors header says about one tensor (no data read)."""

    __slots__ = ("dtype", "shape", "nbytes")

    def __init__(self, dtype: torch.dtype, shape: tuple[int, ...], nbytes: int) -> None:
        self.dtype, self.shape, self.nbytes = dtype, shape, nbytes


def read_safetensors_header(path: Path) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Keys -> TensorInfo and the ``__metadata__``, validated against the file size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CorruptModelFile(path, "truncated safetensors file (no header)")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, _MAX_HEADER):
            raise CorruptModelFile(path, f"corrupt or truncated safetensors file (header of {n} bytes, file {size})")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, ValueError) as e:
            raise CorruptModelFile(path, f"corrupt safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise CorruptModelFile(path, "corrupt safetensors header (not an object)")
    meta = header.pop("__metadata__", None) or {}
    infos: dict[str, TensorInfo] = {}
    end = 0
    try:
        for key, h in header.items():
            start, stop = h["data_offsets"]
            dtype = _ST_DTYPES[h["dtype"]]
            infos[key] = TensorInfo(dtype, tuple(int(s) for s in h["shape"]), stop - start)
            end = max(end, stop)
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptModelFile(path, f"corrupt safetensors header entry: {e!r}") from None
    if 8 + n + end > size:
        raise CorruptModelFile(path, f"truncated safetensors file: data ends at {8 + n + end} bytes, file has {size}")
    return infos, meta


class SafetensorsStateDict(Mapping[str, torch.Tensor]):
    """A safetensors file's tensors, read on access from the memory-mapped file."""

    #: its tensors are views of the file's (private) mapping, not copies in memory
    mapped = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.infos, self.metadata = read_safetensors_header(path)
        self._handle: Any = None

    def _open(self) -> Any:
        if self._handle is None:
            from safetensors import safe_open

            try:
                self._handle = safe_open(str(self.path), framework="pt", device="cpu")
            except Exception as e:  # safetensors raises its own SafetensorError
                raise CorruptModelFile(self.path, f"cannot open safetensors file: {e}") from None
        return self._handle

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self.infos:
            raise KeyError(key)
        try:
            return self._open().get_tensor(key)
        except CorruptModelFile:
            raise
        except Exception as e:
            raise CorruptModelFile(self.path, f"cannot read tensor {key!r}: {e}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.infos)

    def __len__(self) -> int:
        return len(self.infos)

    def shape(self, key: str) -> tuple[int, ...]:
        return self.infos[key].shape

    def nbytes(self, key: str) -> int:
        return self.infos[key].nbytes


class TensorDict(Mapping[str, torch.Tensor]):
    """An in-memory state dict with the same ``shape``/``nbytes`` helpers (pickles, converted dicts)."""

    def __init__(self, tensors: Mapping[str, torch.Tensor], path: Path | None = None, mapped: bool = False) -> None:
        self.tensors = dict(tensors)
        self.path = path
        #: whether the tensors are views of the memory-mapped file (a zip pickle loaded with ``mmap``)
        self.mapped = mapped
        self.metadata: dict[str, str] = {}

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.tensors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.tensors[key].shape)

    def nbytes(self, key: str) -> int:
        t = self.tensors[key]
        return t.numel() * t.element_size()


def _load_pickle(path: Path) -> TensorDict:
    import warnings
    import zipfile

    mapped = zipfile.is_zipfile(path)  # torch's zip format can be memory-mapped, the legacy one cannot
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # protocol notices of legacy pickles
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mapped)
    except Exception as e:
        raise _pickle_error(path, e) from None
    return TensorDict(_tensors_of(path, obj), path, mapped)


def _pickle_error(path: Path, e: Exception) -> Exception:
    import pickle

    text = str(e)
    if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in text:
        detail = (text.split("\n\n")[1] if "\n\n" in text else text).strip()
        # torch's unpickler names the global (a function, a class) it refused; a pickle (or torch zip) it could
        # not follow otherwise may carry code too; bytes that start as neither are no checkpoint at all
        if "global" in detail.lower() or _looks_pickled(path):
            return UnsafePickle(path, f"refused: the pickle carries code, not only weights ({detail[:300]})")
        return CorruptModelFile(path, f"corrupt or not a checkpoint: no pickle can be read from it ({detail[:200]})")
    return CorruptModelFile(path, f"corrupt or truncated checkpoint: {type(e).__name__}: {text[:300]}")


def _looks_pickled(path: Path) -> bool:
    """A zip archive (``torch.save``) or a pickle's protocol header (0x80, protocol 2 to 5)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return head == b"PK" or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def _tensors_of(path: Path, obj: Any) -> dict[str, torch.Tensor]:
    """The flat state dict inside a pickle (``state_dict`` key as in .ckpt files, else the dict itself)."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CorruptModelFile(path, f"checkpoint holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def open_state_dict(path: str | Path) -> SafetensorsStateDict | TensorDict:
    """The file's state dict: lazy for safetensors, loaded (weights only) for pickles."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileNotFound(path)
    if path.suffix.lower() in SAFETENSORS_EXTENSIONS:
        return SafetensorsStateDict(path)
    return _load_pickle(path)


StateDict = SafetensorsStateDict | TensorDict

__all__ = ["SafetensorsStateDict", "StateDict", "TensorDict", "TensorInfo", "open_state_dict",
           "read_safetensors_header"]
