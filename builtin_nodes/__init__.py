"""The core nodes, written on our v3 API (a few on v1, where ComfyUI's /object_info entry needs it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builtin_nodes.paths import OutputPaths

if TYPE_CHECKING:
    from host.registry import Registry


def load_builtin(registry: Registry, paths: OutputPaths) -> None:
    """Register every builtin node, run in-process by one LocalRunner."""
    from builtin_nodes import image_ops, preview_any
    from builtin_nodes.images import image_nodes
    from builtin_nodes.logic import NODES as LOGIC
    from builtin_nodes.primitives import NODES as PRIMITIVES
    from builtin_nodes.rebatch import NODES as REBATCH
    from builtin_nodes.strings import NODES as STRINGS
    from isolate.local_runner import LocalRunner

    runner = LocalRunner()
    v3 = [*image_nodes(paths), *image_ops.NODES, *PRIMITIVES, *REBATCH, *STRINGS, *LOGIC]
    registry.add_classes({cls.define_schema().node_id: cls for cls in v3}, runner, origin="builtin")
    for module in (image_ops, preview_any):  # v1 classes: display names and python_module given here
        registry.add_classes(module.V1_CLASSES, runner, display_names=module.V1_DISPLAY_NAMES, origin="builtin",
                             python_module=module.V1_MODULE)


__all__ = ["OutputPaths", "load_builtin"]
