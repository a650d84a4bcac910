"""ComfyUI's ``comfy`` package for node packs in an isolated child. Pure data and pure functions run here
(``comfy.latent_formats``, ``comfy.ops``, ``comfy.utils``); anything touching a model is a proxy whose calls
run on the host (``comfy.model_patcher.ModelPatcher``, ``comfy.sd.CLIP``/``VAE``, ``comfy.sample.sample``);
ComfyUI's internals nodehost does not have (``comfy.ldm.*``, ...) are stand-ins that raise when used
(isolate/standins.py). Nothing here imports torch at import time.
"""
