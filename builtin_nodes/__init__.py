"""The core nodes, written on our v3 API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builtin_nodes.paths import OutputPaths

if TYPE_CHECKING:
    from host.registry import Registry


def load_builtin(registry: Registry, paths: OutputPaths) -> None:
    """Register every builtin node, run in-process by one LocalRunner."""
    from builtin_nodes.images import image_nodes
    from builtin_nodes.primitives import NODES as PRIMITIVES
    from isolate.local_runner import LocalRunner

    classes = {cls.define_schema().node_id: cls for cls in [*image_nodes(paths), *PRIMITIVES]}
    registry.add_classes(classes, LocalRunner(), origin="builtin")


__all__ = ["OutputPaths", "load_builtin"]
