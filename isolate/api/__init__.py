"""Our v3 node API; ``comfy_api.latest`` (and ``v0_0_2``, ``v0_0_1``) re-export it (isolate/compat_modules)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from isolate.api import io, ui
from isolate.api.io import ComfyNode
from isolate.api.namespaces import Input, InputImpl, Types
from isolate.api.progress import ComfyAPI, ComfyAPISync
from isolate.context import ProgressHook


class ComfyExtension(ABC):
    """A v3 pack's entry object: its module-level ``async def comfy_entrypoint()`` returns one."""

    async def on_load(self) -> None:
        """Called once when the extension is loaded, before ``get_node_list``."""
        return None

    @abstractmethod
    async def get_node_list(self) -> list[type[ComfyNode]]:
        """The extension's node classes."""


IO = io
UI = ui
__all__ = ["IO", "UI", "ComfyAPI", "ComfyAPISync", "ComfyExtension", "Input", "InputImpl",
           "ProgressHook", "Types", "io", "ui"]
