"""``comfy_api.latest._io`` (ComfyUI's private module name): ``isolate.api.io``'s names (the same objects)."""

from typing import Any

import isolate.api.io as _impl
from isolate.api.io import *  # noqa: F403

__all__ = list(_impl.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_impl, name)
