"""ComfyUI's ``comfy_api`` package for node packs, backed by nodehost's own v3 API (``isolate.api``).

``comfy_api.latest`` is the current API; ``comfy_api.v0_0_2`` and ``comfy_api.v0_0_1`` are aliases of it.
This folder is put on ``sys.path`` by ``isolate.compat_path.install()``.
"""
