"""ComfyUI's ``comfy`` package for node packs, as far as an isolated child provides it: ``comfy.utils``,
``comfy.model_management``, ``comfy.comfy_types``. The model-level modules (``comfy.sd``, ``comfy.samplers``,
``comfy.model_patcher``, ...) are not provided yet. Nothing here imports torch at import time.
"""
