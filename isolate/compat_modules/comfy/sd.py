"""ComfyUI's ``comfy.sd`` in a pack child: ``CLIP`` and ``VAE`` are proxies for the host's text encoder and
VAE (their methods run on the host); ``load_checkpoint_guess_config`` has the host's model manager load the
file and returns proxies. The weights never enter the pack's process."""

from __future__ import annotations

from typing import Any

from isolate.proxies import HostObject
from isolate.standins import NotProvidedError


class CLIP(HostObject):
    def __init__(self, ref: Any = None, **kwargs: Any) -> None:
        if ref is None or kwargs:
            raise NotProvidedError("comfy.sd.CLIP(...) from a pack's own weights: load text encoders with the host's "
                                   "loaders (nodes.CLIPLoader, comfy.sd.load_checkpoint_guess_config)")
        super().__init__(ref)

    def clone(self) -> CLIP:
        return self._call("clone")

    def tokenize(self, text: str, return_word_ids: bool = False, **kwargs: Any) -> Any:
        return self._call("tokenize", text)

    def encode_from_tokens(self, tokens: Any, return_pooled: Any = False, return_dict: bool = False) -> Any:
        return self._call("encode_from_tokens", tokens, return_pooled, return_dict)

    def encode_from_tokens_scheduled(self, tokens: Any, unprojected: bool = False,
                                     add_dict: dict[str, Any] | None = None) -> Any:
        return self._call("encode_from_tokens_scheduled", tokens, unprojected, add_dict or {})

    def encode(self, text: str) -> Any:
        return self._call("encode", text)

    def clip_layer(self, layer_idx: int) -> None:
        self._call("clip_layer", layer_idx)

    def load_model(self) -> Any:
        return None


class VAE(HostObject):
    """The host's VAE. ``VAE(sd=...)`` of a state dict as ``comfy.utils.load_torch_file`` read it from a file in a
    vae folder has the host load that file (nodes.VAELoader; the host's device and dtype policy decide where and in
    what dtype, ``device``/``dtype`` are not followed); weights of the pack's own are refused."""

    def __init__(self, ref: Any = None, sd: Any = None, device: Any = None, config: Any = None, dtype: Any = None,
                 metadata: Any = None, **kwargs: Any) -> None:
        if ref is None:
            ref = _host_vae(sd, config)._ref
        super().__init__(ref)
        self._info: dict[str, Any] | None = None

    def throw_exception_if_invalid(self) -> None:
        """ComfyUI raises here for a state dict it found no VAE in; the host already did when it loaded it."""

    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self._call("info")
        return self._info

    @property
    def latent_channels(self) -> int:
        return int(self.info()["latent_channels"])

    @property
    def downscale_ratio(self) -> int:
        return int(self.info()["downscale"])

    @property
    def upscale_ratio(self) -> int:
        return int(self.info()["downscale"])

    @property
    def vae_dtype(self) -> Any:
        import torch

        return getattr(torch, self.info().get("dtype", "float32"))

    def spacial_compression_decode(self) -> int:
        return self.upscale_ratio

    def spacial_compression_encode(self) -> int:
        return self.downscale_ratio

    def temporal_compression_decode(self) -> None:
        return None

    def decode(self, samples_in: Any, vae_options: Any = None) -> Any:
        return self._call("decode", samples_in)

    def encode(self, pixel_samples: Any) -> Any:
        return self._call("encode", pixel_samples)

    def decode_tiled(self, samples: Any, tile_x: int = 64, tile_y: int = 64, overlap: int = 16, **kwargs: Any) -> Any:
        return self._call("decode_tiled", samples, tile_x, tile_y, overlap)

    def encode_tiled(self, pixel_samples: Any, tile_x: int = 512, tile_y: int = 512, overlap: int = 64,
                     **kwargs: Any) -> Any:
        return self._call("encode_tiled", pixel_samples, tile_x, tile_y, overlap)


def _folder_name(folder: str, path: str) -> str | None:
    """``path``'s name relative to the first of ``folder``'s directories holding it (what the host's loaders take)."""
    import os

    import folder_paths

    for root in folder_paths.get_folder_paths(folder):
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        if not rel.startswith(".."):
            return rel
    return None


def _host_vae(sd: Any, config: Any) -> VAE:
    from comfy.utils import unchanged_file
    from isolate.core_nodes import run_node

    path = unchanged_file(sd) if config is None else None
    name = _folder_name("vae", path) if path is not None else None
    if name is None:
        if config is not None:
            why = "with a config"
        elif path is not None:
            why = f"of {path}, outside the vae folders"
        elif hasattr(sd, "nodehost_path"):
            why = "of weights changed since load_torch_file read them"
        else:
            why = "of a pack's own weights"
        raise NotProvidedError(f"comfy.sd.VAE(sd=...) {why}: the host loads VAEs from its vae folders "
                               "(comfy.utils.load_torch_file of such a file, unchanged; nodes.VAELoader; "
                               "comfy.sd.load_checkpoint_guess_config)")
    [vae] = run_node("VAELoader", {"vae_name": name})["values"]
    return vae


def load_checkpoint_guess_config(ckpt_path: str, output_vae: bool = True, output_clip: bool = True,
                                 output_clipvision: bool = False, embedding_directory: Any = None,
                                 output_model: bool = True, **kwargs: Any) -> tuple[Any, Any, Any, Any]:
    """(model, clip, vae, clipvision) of a checkpoint file, loaded by the host's model manager."""


    from isolate.core_nodes import run_node

    if ckpt_path is None:  # what folder_paths.get_full_path gives for a file it does not see
        raise FileNotFoundError("no checkpoint file (folder_paths.get_full_path found none; a sandboxed pack sees "
                                "the models folder only with [sandbox] read = [\"models\"] in its manifest)")
    name = _folder_name("checkpoints", ckpt_path)
    if name is None:
        raise NotProvidedError(f"{ckpt_path}: the host loads checkpoints from its checkpoints folders only")
    model, clip, vae = run_node("CheckpointLoaderSimple", {"ckpt_name": name})["values"]
    return (model if output_model else None, clip if output_clip else None, vae if output_vae else None, None)


def load_lora_for_models(model: Any, clip: Any, lora: Any, strength_model: float, strength_clip: float) -> Any:
    """The model and clip with a LoRA state dict applied (as patches on clones)."""
    from comfy.lora import load_lora, model_lora_keys_unet

    new_model = model.clone() if model is not None else None
    if new_model is not None and strength_model:
        new_model.add_patches(load_lora(lora, model_lora_keys_unet(model)), strength_model)
    new_clip = clip.clone() if clip is not None else None
    if new_clip is not None and strength_clip:
        raise NotProvidedError("LoRA on a CLIP from a pack: use the host's LoraLoader node")
    return new_model, new_clip


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
