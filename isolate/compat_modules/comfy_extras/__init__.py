"""ComfyUI's core extra nodes (``comfy_extras.nodes_*``) in a pack child: each module's node classes are the
host's nodes of those names (isolate/core_nodes.py), anything else a stand-in (isolate/standins.py)."""
