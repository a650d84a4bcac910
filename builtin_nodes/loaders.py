"""Model loader nodes from ComfyUI's ``nodes``: CheckpointLoaderSimple, CheckpointLoader, VAELoader, UNETLoader,
CLIPLoader, DualCLIPLoader. Their combos list the model folders, read again whenever /object_info or validation asks.

Each node finds the file through the model folders and loads it through the host's model manager (which caches
by path and mtime); the architectures and the loading itself are ``host.models.loading``'s. A file the loader
cannot read is a node error naming the file (``host.models.checkpoint.ModelFileError``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager

CLIP_TYPES = ["stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart", "cosmos",
              "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image", "hunyuan_image", "flux2", "ovis"]
UNET_WEIGHT_DTYPES = ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]
_CLIP_DESCRIPTION = ("[Recipes]\n\nstable_diffusion: clip-l\nstable_cascade: clip-g\nsd3: t5 xxl/ clip-g / clip-l\n"
                     "stable_audio: t5 base\nmochi: t5 xxl\ncosmos: old t5 xxl\nlumina2: gemma 2 2B\nwan: umt5 xxl\n "
                     "hidream: llama-3.1 (Recommend) or t5\nomnigen2: qwen vl 2.5 3B")


class _Loader:
    folders: ClassVar[NodeFolders]

    @classmethod
    def files(cls, folder: str) -> list[str]:
        return cls.folders.models.filename_list(folder)

    def embeddings(self, clip: Any) -> Any:
        """The text encoder looks up ``embedding:name`` in the embeddings folders."""
        if clip is not None and hasattr(clip, "embedding_dirs"):
            clip.embedding_dirs = self.folders.models.paths("embeddings")
        return clip


class CheckpointLoaderSimple(_Loader):
    DESCRIPTION = "Loads a diffusion model checkpoint, diffusion models are used to denoise latents."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"ckpt_name": (cls.files("checkpoints"),
                                           {"tooltip": "The name of the checkpoint (model) to load."})}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    OUTPUT_TOOLTIPS = ("The model used for denoising latents.", "The CLIP model used for encoding text prompts.",
                       "The VAE model used for encoding and decoding images to and from latent space.")
    FUNCTION = "load_checkpoint"
    CATEGORY = "loaders"

    def load_checkpoint(self, ckpt_name: str) -> tuple[Any, Any, Any]:
        models = manager()
        ckpt = models.load_checkpoint(models.find("checkpoints", ckpt_name))
        return (ckpt.model, self.embeddings(ckpt.clip), ckpt.vae)


class CheckpointLoader(_Loader):
    """Deprecated: the config file is ignored, the architecture is read from the checkpoint's keys."""

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"config_name": (cls.files("configs"),), "ckpt_name": (cls.files("checkpoints"),)}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"
    CATEGORY = "advanced/loaders"
    DEPRECATED = True

    def load_checkpoint(self, config_name: str, ckpt_name: str) -> tuple[Any, Any, Any]:
        return CheckpointLoaderSimple.load_checkpoint(self, ckpt_name)  # type: ignore[arg-type]


class PixelSpaceVAE:
    """VAELoader's ``pixel_space``: no VAE at all, the image is the latent (channels first)."""

    latent_channels = 3

    def decode(self, samples: Any) -> Any:
        return samples.movedim(1, -1).clamp(0.0, 1.0)

    def encode(self, pixels: Any) -> Any:
        return pixels[..., :3].movedim(-1, 1)

    def decode_tiled(self, samples: Any, **_: Any) -> Any:
        return self.decode(samples)

    def encode_tiled(self, pixels: Any, **_: Any) -> Any:
        return self.encode(pixels)


class VAELoader(_Loader):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"vae_name": ([*cls.files("vae"), "pixel_space"],)}}

    RETURN_TYPES = ("VAE",)
    FUNCTION = "load_vae"
    CATEGORY = "loaders"

    def load_vae(self, vae_name: str) -> tuple[Any]:
        if vae_name == "pixel_space":
            return (PixelSpaceVAE(),)
        models = manager()
        return (models.load_vae(models.find("vae", vae_name)),)


class UNETLoader(_Loader):
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"unet_name": (cls.files("diffusion_models"),),
                             "weight_dtype": (list(UNET_WEIGHT_DTYPES),)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load_unet"
    CATEGORY = "advanced/loaders"

    def load_unet(self, unet_name: str, weight_dtype: str) -> tuple[Any]:
        models = manager()
        path = models.find("diffusion_models", unet_name)
        if weight_dtype == "default":
            return (models.load_unet(path),)
        return (models.load_unet(path, weight_dtype=weight_dtype),)


class CLIPLoader(_Loader):
    DESCRIPTION = _CLIP_DESCRIPTION

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"clip_name": (cls.files("text_encoders"),), "type": (list(CLIP_TYPES),)},
                "optional": {"device": (["default", "cpu"], {"advanced": True})}}

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"
    CATEGORY = "advanced/loaders"

    def load_clip(self, clip_name: str, type: str = "stable_diffusion", device: str = "default") -> tuple[Any]:  # noqa: A002
        models = manager()
        path = models.find("text_encoders", clip_name)
        clip = models.load_clip(path, type) if device == "default" else models.load_clip(path, type, device="cpu")
        return (self.embeddings(clip),)


DUAL_CLIP_TYPES = ["sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image", "hunyuan_video_15",
                   "kandinsky5", "kandinsky5_image", "ltxv", "newbie"]
_DUAL_DESCRIPTION = ("[Recipes]\n\nsdxl: clip-l, clip-g\nsd3: clip-l, clip-g / clip-l, t5 / clip-g, t5\n"
                     "flux: clip-l, t5\nhidream: at least one of t5 or llama, recommended t5 and llama\n"
                     "hunyuan_image: qwen2.5vl 7b and byt5 small\nnewbie: gemma-3-4b-it, jina clip v2")


class DualCLIPLoader(_Loader):
    """Two text-encoder files as one CLIP (``sdxl``: CLIP-L and OpenCLIP-bigG, in either order); a type for
    a model family nodehost does not run is a node error naming it."""

    DESCRIPTION = _DUAL_DESCRIPTION

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"clip_name1": (cls.files("text_encoders"),), "clip_name2": (cls.files("text_encoders"),),
                             "type": (list(DUAL_CLIP_TYPES),)},
                "optional": {"device": (["default", "cpu"], {"advanced": True})}}

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"
    CATEGORY = "advanced/loaders"

    def load_clip(self, clip_name1: str, clip_name2: str, type: str, device: str = "default") -> tuple[Any]:  # noqa: A002
        models = manager()
        paths = (models.find("text_encoders", clip_name1), models.find("text_encoders", clip_name2))
        clip = models.load_dual_clip(paths, type, device="cpu" if device == "cpu" else None)
        return (self.embeddings(clip),)


V1_MODULE = "nodes"
V1_DISPLAY_NAMES = {"CheckpointLoaderSimple": "Load Checkpoint",
                    "CheckpointLoader": "Load Checkpoint With Config (DEPRECATED)", "VAELoader": "Load VAE",
                    "UNETLoader": "Load Diffusion Model", "CLIPLoader": "Load CLIP"}


def loader_classes(folders: NodeFolders) -> dict[str, type]:
    """The loader classes bound to ``folders`` (all live: their combos list model files)."""
    return {cls.__name__: type(cls.__name__, (cls,), {"folders": folders})
            for cls in (CheckpointLoaderSimple, CheckpointLoader, VAELoader, UNETLoader, CLIPLoader, DualCLIPLoader)}
