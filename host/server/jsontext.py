"""JSON in and out that stays valid (issue 15 item 8): request text with lone surrogates is refused (it
cannot be stored or encoded as UTF-8), and responses never carry ``NaN``/``Infinity`` (not JSON: a float that
is not finite is written as null)."""

from __future__ import annotations

import json
import math
from typing import Any


def lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) in ``value`` that is not encodable as UTF-8, if any."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None (copies only what changes)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """``json.dumps`` for responses and WebSocket messages: strict JSON, never NaN or Infinity."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False)
