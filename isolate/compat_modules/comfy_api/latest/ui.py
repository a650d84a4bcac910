"""``comfy_api.latest.ui``: ``isolate.api.ui``'s names (the same objects)."""

from typing import Any

import isolate.api.ui as _impl
from isolate.api.ui import *  # noqa: F403

__all__ = list(_impl.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_impl, name)
