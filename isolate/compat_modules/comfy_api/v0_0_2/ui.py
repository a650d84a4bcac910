"""``comfy_api.v0_0_2.ui``: ``comfy_api.latest.ui``."""

from typing import Any

from comfy_api.latest import ui as _impl
from comfy_api.latest.ui import *  # noqa: F403

__all__ = list(_impl.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_impl, name)
