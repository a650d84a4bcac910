"""The live prompt of one run: the validated prompt plus ephemeral nodes added by node expansion."""

from __future__ import annotations

from typing import Any

from isolate.dynprompt import DynPromptData, EphemeralNode


class DynamicPrompt:
    """``nodes`` holds every node (original and ephemeral) by id; display and real ids are resolved when an
    ephemeral node is added, so lookups are O(1) however deep expansions nest."""

    def __init__(self, prompt: dict[str, dict[str, Any]]) -> None:
        self.original = prompt
        self.nodes: dict[str, dict[str, Any]] = dict(prompt)
        self.data = DynPromptData(prompt=prompt)

    def add_ephemeral(self, node_id: str, node: dict[str, Any], parent: str, display: str) -> None:
        self.nodes[node_id] = node
        self.data.ephemeral[node_id] = EphemeralNode(
            node=node, parent=parent, display=self.display_id(display), real=self.real_id(parent))

    def is_ephemeral(self, node_id: str) -> bool:
        return node_id in self.data.ephemeral

    def real_id(self, node_id: str) -> str:
        eph = self.data.ephemeral.get(node_id)
        return eph.real if eph is not None else node_id

    def display_id(self, node_id: str) -> str:
        eph = self.data.ephemeral.get(node_id)
        return eph.display if eph is not None else node_id

    def parent_id(self, node_id: str) -> str | None:
        eph = self.data.ephemeral.get(node_id)
        return eph.parent if eph is not None else None
