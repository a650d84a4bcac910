"""``comfy_api.v0_0_2.io``: ``comfy_api.latest.io``."""

from typing import Any

from comfy_api.latest import io as _impl
from comfy_api.latest.io import *  # noqa: F403

__all__ = list(_impl.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_impl, name)
