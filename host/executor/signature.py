"""CLASSIC cache keys (COMPAT §4.9), flat and linear.

A node's signature is a flat tuple: its class, its fingerprint, its node id only when NOT_IDEMPOTENT or it
takes UNIQUE_ID, and per input (sorted by name) the constant or the parent's key and slot. The interner maps
each signature to a small int id, so keys of descendants hold their parents' ids, never nested structures:
hashing stays O(inputs) per node and equal signatures share a key exactly (dict equality, no collisions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import msgspec

from host.executor.graph import is_link
from host.registry import Registry

_encode = msgspec.json.Encoder(enc_hook=repr, order="sorted").encode


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return ("json", _encode(value))
    return value


class KeyInterner:
    """Signature tuple -> int key. ``fresh()`` gives a key no signature maps to (never a cache hit)."""

    def __init__(self) -> None:
        self._ids: dict[tuple, int] = {}
        self._next = 0

    def intern(self, signature: tuple) -> int:
        key = self._ids.get(signature)
        if key is None:
            key = self._ids[signature] = self.fresh()
        return key

    def fresh(self) -> int:
        self._next += 1
        return self._next

    def retain(self, keys: Iterable[int]) -> None:
        """Forget signatures whose key is not in ``keys`` (the cache dropped their entries)."""
        used = set(keys)
        self._ids = {sig: key for sig, key in self._ids.items() if key in used}

    def __len__(self) -> int:
        return len(self._ids)


def compute_keys(prompt: dict[str, dict[str, Any]], order: list[str], registry: Registry,
                 fingerprints: dict[str, Any], cyclic: set[str], interner: KeyInterner,
                 keys: dict[str, int] | None = None) -> dict[str, int]:
    """Keys for ``order`` (producers first), added to ``keys``. A NaN fingerprint or a node on a cycle gets
    a fresh key, so it and everything downstream re-runs."""
    keys = {} if keys is None else keys
    nodes = registry.nodes
    for nid in order:
        fp = fingerprints.get(nid)
        if nid in cyclic or is_nan(fp):
            keys[nid] = interner.fresh()
            continue
        node = prompt[nid]
        class_type = node["class_type"]
        bound = nodes[class_type]
        parts: list[Any] = [class_type, _hashable(fp),
                            nid if bound.nodedef.not_idempotent or bound.uses_unique_id else None]
        inputs = node.get("inputs") or {}
        for name, val in (sorted(inputs.items()) if len(inputs) > 1 else inputs.items()):
            if type(val) is list and is_link(val):
                parts.append((name, keys.get(val[0], val[0]), int(val[1])))
            else:
                parts.append((name, _hashable(val)))
        keys[nid] = interner.intern(tuple(parts))
    return keys
