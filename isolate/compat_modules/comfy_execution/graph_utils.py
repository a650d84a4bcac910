"""``comfy_execution.graph_utils``: ``isolate.graph_utils``'s objects (the same ones, not copies)."""

from isolate.graph_utils import ExecutionBlocker, GraphBuilder, Node, add_graph_prefix, is_link

__all__ = ["ExecutionBlocker", "GraphBuilder", "Node", "add_graph_prefix", "is_link"]
