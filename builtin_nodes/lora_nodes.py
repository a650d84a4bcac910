"""LoraLoader and LoraLoaderModelOnly from ComfyUI's ``nodes``: a LoRA from the ``loras`` folder applied to a MODEL
(and a CLIP) as patches on a clone sharing the weights (host.models.lora_apply); the weights are patched when
the model is next readied for compute and put back when a value without these patches is. The file is read
once and kept in the model manager's cache (by path and mtime). A LoRA that does not fit the model is a node
error naming the file (host.models.errors.LoraMismatch).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager

_DESCRIPTION = ("LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised "
                "such as applying styles. Multiple LoRA nodes can be linked together.")
_STRENGTH = {"default": 1.0, "min": -100.0, "max": 100.0, "step": 0.01}


def read_lora(lora_name: str) -> tuple[Any, Any]:
    """(path, tensors) of a LoRA file in the loras folder, through the manager's file cache."""
    from host.models.checkpoint import TensorDict, open_state_dict

    models = manager()
    path = models.find("loras", lora_name)
    return path, models.cached(("lora",), path, lambda: TensorDict(dict(open_state_dict(path).items()), path))


class LoraLoader:
    folders: ClassVar[NodeFolders]
    DESCRIPTION = _DESCRIPTION

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "model": ("MODEL", {"tooltip": "The diffusion model the LoRA will be applied to."}),
            "clip": ("CLIP", {"tooltip": "The CLIP model the LoRA will be applied to."}),
            "lora_name": (cls.folders.models.filename_list("loras"), {"tooltip": "The name of the LoRA."}),
            "strength_model": ("FLOAT", {**_STRENGTH, "tooltip": "How strongly to modify the diffusion model. "
                                                                 "This value can be negative."}),
            "strength_clip": ("FLOAT", {**_STRENGTH, "tooltip": "How strongly to modify the CLIP model. This value "
                                                                "can be negative."})}}

    RETURN_TYPES = ("MODEL", "CLIP")
    OUTPUT_TOOLTIPS = ("The modified diffusion model.", "The modified CLIP model.")
    FUNCTION = "load_lora"
    CATEGORY = "loaders"

    def load_lora(self, model: Any, clip: Any, lora_name: str, strength_model: float,
                  strength_clip: float) -> tuple[Any, Any]:
        from host.models.lora_apply import load_lora_for_models

        if strength_model == 0 and strength_clip == 0:
            return (model, clip)
        path, lora = read_lora(lora_name)
        return load_lora_for_models(model, clip, lora, strength_model, strength_clip, path)


class LoraLoaderModelOnly(LoraLoader):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"model": ("MODEL",), "lora_name": (cls.folders.models.filename_list("loras"),),
                             "strength_model": ("FLOAT", dict(_STRENGTH))}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load_lora_model_only"

    def load_lora_model_only(self, model: Any, lora_name: str, strength_model: float) -> tuple[Any]:
        if strength_model == 0:
            return (model,)
        return (self.load_lora(model, None, lora_name, strength_model, 0)[0],)


V1_DISPLAY_NAMES = {"LoraLoader": "Load LoRA", "LoraLoaderModelOnly": "LoraLoaderModelOnly"}


def lora_classes(folders: NodeFolders) -> dict[str, type]:
    """The LoRA loader classes bound to ``folders`` (live: the combo lists the loras folder)."""
    return {cls.__name__: type(cls.__name__, (cls,), {"folders": folders}) for cls in (LoraLoader, LoraLoaderModelOnly)}
