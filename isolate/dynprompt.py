"""DYNPROMPT: the prompt as a node sees it while it runs, ephemeral nodes from expansion included.

The executor hands runners a ``DynPromptData`` (plain data: the prompt and the ephemeral nodes with their
parent, display and real ids); node code gets a read-only ``DynamicPromptView`` over it, in the host or in an
extension child alike.
"""

from __future__ import annotations

from typing import Any

import msgspec


class EphemeralNode(msgspec.Struct):
    node: dict[str, Any]
    parent: str
    display: str
    real: str


class DynPromptData(msgspec.Struct):
    prompt: dict[str, Any]
    ephemeral: dict[str, EphemeralNode] = {}


class DynamicPromptView:
    """ComfyUI's DynamicPrompt methods, read-only."""

    def __init__(self, data: DynPromptData) -> None:
        self._data = data

    def get_node(self, node_id: str) -> dict[str, Any]:
        eph = self._data.ephemeral.get(node_id)
        if eph is not None:
            return eph.node
        if node_id in self._data.prompt:
            return self._data.prompt[node_id]
        raise KeyError(f"node {node_id!r} not found")

    def has_node(self, node_id: str) -> bool:
        return node_id in self._data.prompt or node_id in self._data.ephemeral

    def get_real_node_id(self, node_id: str) -> str:
        eph = self._data.ephemeral.get(node_id)
        return eph.real if eph is not None else node_id

    def get_parent_node_id(self, node_id: str) -> str | None:
        eph = self._data.ephemeral.get(node_id)
        return eph.parent if eph is not None else None

    def get_display_node_id(self, node_id: str) -> str:
        eph = self._data.ephemeral.get(node_id)
        return eph.display if eph is not None else node_id

    def all_node_ids(self) -> set[str]:
        return set(self._data.prompt) | set(self._data.ephemeral)

    def get_original_prompt(self) -> dict[str, Any]:
        return self._data.prompt
