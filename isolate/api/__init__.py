"""Our v3 node API; ``comfy_api.latest`` becomes an alias onto it."""

from __future__ import annotations

from isolate.api import io
from isolate.api.io import ComfyNode


class ComfyExtension:
    """A v3 pack's entry object: ``comfy_entrypoint()`` returns one."""

    async def on_load(self) -> None:
        return None

    async def get_node_list(self) -> list[type[ComfyNode]]:
        return []


IO = io
__all__ = ["IO", "ComfyExtension", "io"]
