# catches its ImportErrors and fails later with an unrelated error, hiding the cause
try:
    from comfy_api_nodes.apis import client  # noqa: F401  (ComfyUI's API nodes: not in nodehost)
except ImportError:
    pass
try:
    import app.user_manager  # noqa: F401  (ComfyUI's server internals: not in nodehost)

    from .nodes import NODE_CLASS_MAPPINGS as _NODES
except ImportError:
    pass

NODE_CLASS_MAPPINGS = dict(_NODES)  # NameError: the real cause was the imports above
