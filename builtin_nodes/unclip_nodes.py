"""unCLIPCheckpointLoader and unCLIPConditioning from ComfyUI's ``nodes`` (``host.models.unclip``).

The loader is CheckpointLoaderSimple plus the checkpoint's CLIP vision tower (``embedder.model.visual.*``);
unCLIPConditioning appends {clip_vision_output, strength, noise_augmentation} to each entry's
``unclip_conditioning`` list (strength 0 leaves the conditioning as it is), which the sampler turns into the
unCLIP UNet's class embedding.
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager


class unCLIPCheckpointLoader:  # noqa: N801 - ComfyUI's node name
    folders: ClassVar[NodeFolders]

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"ckpt_name": (cls.folders.models.filename_list("checkpoints"),)}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE", "CLIP_VISION")
    FUNCTION = "load_checkpoint"
    CATEGORY = "loaders"

    def load_checkpoint(self, ckpt_name: str) -> tuple[Any, Any, Any, Any]:
        from host.models.checkpoint import open_state_dict
        from host.models.clip_vision import build_clip_vision

        models = manager()
        path = models.find("checkpoints", ckpt_name)
        ckpt = models.load_checkpoint(path)
        device = models.plan.text_encoder_device
        vision = models.cached(("checkpoint_clip_vision", str(device)), path, lambda: build_clip_vision(
            open_state_dict(path), path, device=device, dtype_policy=models.dtype_policy))
        clip = ckpt.clip
        if clip is not None and hasattr(clip, "embedding_dirs"):
            clip.embedding_dirs = self.folders.models.paths("embeddings")
        return (ckpt.model, clip, ckpt.vae, vision)


class unCLIPConditioning:  # noqa: N801 - ComfyUI's node name
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"conditioning": ("CONDITIONING",), "clip_vision_output": ("CLIP_VISION_OUTPUT",),
                             "strength": ("FLOAT", {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01}),
                             "noise_augmentation": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_adm"
    CATEGORY = "conditioning"

    def apply_adm(self, conditioning: list[Any], clip_vision_output: Any, strength: float,
                  noise_augmentation: float) -> tuple[list[Any]]:
        from isolate.compat_modules.node_helpers import conditioning_set_values

        if strength == 0:
            return (conditioning,)
        entry = {"clip_vision_output": clip_vision_output, "strength": strength,
                 "noise_augmentation": noise_augmentation}
        return (conditioning_set_values(conditioning, {"unclip_conditioning": [entry]}, append=True),)


V1_DISPLAY_NAMES: dict[str, str] = {}
V1_CLASSES: dict[str, type] = {"unCLIPConditioning": unCLIPConditioning}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    return {"unCLIPCheckpointLoader": type("unCLIPCheckpointLoader", (unCLIPCheckpointLoader,), {"folders": folders})}


__all__ = ["V1_CLASSES", "V1_DISPLAY_NAMES", "loader_classes"]
