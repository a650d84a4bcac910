"""Values crossing the process boundary: JSON data as itself, tensors as shared-memory handles, everything
else as an opaque reference to an object that stays in the process that made it.

Tagged objects are ``{"__nh__": kind, ...}``: ``tensor`` (a TensorHandle), ``tuple``, ``blocker``
(ExecutionBlocker), ``opaque`` (an object that cannot cross: model objects, open files...), ``patched`` (a
reference to another process's model plus the patches recorded on it: a pack's patched clone of a host MODEL),
and ``dict`` (a dict that itself has an ``__nh__`` key, escaped).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from isolate.graph_utils import ExecutionBlocker

TAG = "__nh__"
_ATOMS = (str, int, float, bool, type(None))


class OpaqueRef(msgspec.Struct, frozen=True):
    """An object living in another process (``owner``); it can only be passed back there."""

    owner: str
    id: int
    type: str


class Patched:
    """What a stand-in's ``__nh_ref__`` gives when it carries changes of its own: the reference to the other
    process's object and a payload (plain values, tensors, callables kept here) describing the changes."""

    __slots__ = ("payload", "ref")

    def __init__(self, ref: OpaqueRef, payload: Any) -> None:
        self.ref, self.payload = ref, payload


def is_tensor_like(value: Any) -> bool:
    """A torch tensor or a numpy array, checked without importing either."""
    module = type(value).__module__
    if module.startswith("torch"):
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(value, torch.Tensor)
    if module == "numpy":
        np = sys.modules.get("numpy")
        return np is not None and isinstance(value, np.ndarray)
    return False


def _builtin(value: Any) -> Any:
    """The plain str / int / float of a subclass instance (its own ``__str__`` is not asked)."""
    for base in (str, float, int):  # bool cannot be subclassed
        if isinstance(value, base):
            return base.__str__(value) if base is str else base(value)
    return value


def _is_numpy_scalar(value: Any) -> bool:
    np = sys.modules.get("numpy") if type(value).__module__ == "numpy" else None
    return np is not None and isinstance(value, np.generic)


class Codec:
    """One side's encoder/decoder. ``export`` turns a tensor into a handle (JSON data), ``open`` a handle back
    into a tensor; without them a tensor cannot cross (a clear TypeError)."""

    def __init__(self, owner: str, export: Callable[[Any], Any] | None = None,
                 open: Callable[[Any], Any] | None = None, wrap: Callable[[OpaqueRef], Any] | None = None,
                 patched: Callable[[Any, Any], Any] | None = None) -> None:
        self.owner = owner
        self._export = export
        self._open = open
        #: turns a reference to another process's object into a local stand-in for it (a pack child's model
        #: proxies, isolate/proxies.py); such a stand-in crosses back as its reference (``__nh_ref__``)
        self._wrap = wrap
        #: ``patched(own object, payload)``: a patched copy of one of this side's objects (``Patched`` crossing
        #: back); without it the object comes back as it is
        self._patched = patched
        self._objects: dict[int, Any] = {}
        self._ids = itertools.count(1)

    def encode(self, value: Any) -> Any:
        if isinstance(value, _ATOMS):
            if type(value) not in _ATOMS:  # a subclass JSON cannot write: numpy.float64, a str subclass
                value = _builtin(value)
            return {TAG: "nan"} if value != value else value  # JSON has no NaN (IS_CHANGED uses it)
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            encoded = {str(k): self.encode(v) for k, v in value.items()}
            return {TAG: "dict", "v": encoded} if TAG in value else encoded
        if isinstance(value, tuple):
            return {TAG: "tuple", "v": [self.encode(v) for v in value]}
        if is_tensor_like(value):
            if self._export is None:
                raise TypeError(f"{type(value).__name__} values cannot cross without shared memory")
            return {TAG: "tensor", "h": msgspec.to_builtins(self._export(value))}
        if isinstance(value, ExecutionBlocker):
            return {TAG: "blocker", "m": value.message}
        if isinstance(value, OpaqueRef):
            return {TAG: "opaque", "owner": value.owner, "id": value.id, "type": value.type}
        if isinstance(value, msgspec.Struct):
            return self.encode_struct(value)
        if _is_numpy_scalar(value):  # numpy.int64, numpy.float32, numpy.bool_: the number itself (as in one
            item = value.item()      # process, where they work as numbers); a complex or a datetime stays here
            if isinstance(item, _ATOMS):
                return self.encode(item)
        ref = getattr(type(value), "__nh_ref__", None)
        if ref is not None:
            target = ref.__get__(value) if hasattr(ref, "__get__") else ref
            if isinstance(target, Patched):
                return {TAG: "patched", "ref": self.encode(target.ref), "v": self.encode(target.payload)}
            return self.encode(target)
        return self.keep(value)

    def encode_struct(self, value: msgspec.Struct) -> Any:
        """A Struct as msgspec.to_builtins lays it out (encode names, tag, array_like), each field encoded
        here, so a tensor anywhere inside it crosses through shared memory."""
        config = value.__struct_config__
        fields = [(f.encode_name, self.encode(getattr(value, f.name))) for f in msgspec.structs.fields(value)]
        tag = [(config.tag_field, config.tag)] if config.tag_field is not None else []
        if config.array_like:
            return [v for _, v in tag + fields]
        return dict(tag + fields)

    def keep(self, value: Any) -> dict[str, Any]:
        """An object that cannot cross stays here; the other side gets a reference to it."""
        obj_id = next(self._ids)
        self._objects[obj_id] = value
        return {TAG: "opaque", "owner": self.owner, "id": obj_id, "type": type(value).__qualname__}

    def decode(self, data: Any) -> Any:
        if isinstance(data, _ATOMS):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if isinstance(data, dict):
            kind = data.get(TAG)
            if kind is None:
                return {k: self.decode(v) for k, v in data.items()}
            return self._tagged(kind, data)
        raise TypeError(f"cannot decode {type(data).__name__}")

    def _tagged(self, kind: str, data: dict[str, Any]) -> Any:
        if kind == "tensor":
            if self._open is None:
                raise TypeError("a tensor arrived but this side has no shared memory to open it")
            return self._open(data["h"])
        if kind == "tuple":
            return tuple(self.decode(v) for v in data["v"])
        if kind == "dict":
            return {k: self.decode(v) for k, v in data["v"].items()}
        if kind == "nan":
            return float("nan")
        if kind == "blocker":
            return ExecutionBlocker(data["m"])
        if kind == "patched":
            base = self.decode(data["ref"])
            return self._patched(base, self.decode(data["v"])) if self._patched is not None else base
        if kind == "opaque":
            if data["owner"] == self.owner:
                try:
                    return self._objects[data["id"]]
                except KeyError:
                    raise LookupError(f"object {data['id']} ({data['type']}) is no longer held here") from None
            ref = OpaqueRef(data["owner"], data["id"], data["type"])
            return self._wrap(ref) if self._wrap is not None else ref
        raise TypeError(f"unknown tagged value {kind!r}")

    def forget(self) -> None:
        """Drop every object kept for the other side (e.g. at the end of a prompt)."""
        self._objects.clear()
