"""Node definitions bound to their runners; renders ``/object_info``."""

from host.registry.registry import BoundNode, Conflict, Registry, SlotView

__all__ = ["BoundNode", "Conflict", "Registry", "SlotView"]
