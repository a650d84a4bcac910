"""Which model family a state dict holds: a table of small detectors, one function per family, first match wins
(ComfyUI's ``supported_models`` order). Each detector gets the state dict and its UNet config (read from the keys
under ``model.diffusion_model.``) and returns a :class:`ModelFamily` or None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from host.models.errors import UnknownArchitecture
from host.models.unet_config import UNetConfig, unet_config_from_keys

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."


@dataclass(frozen=True)
class ModelFamily:
    """A detected checkpoint family: the UNet's config and what goes with it."""

    #: "sd15", "sd20", "sd21v", "sdxl", "sdxl_refiner"
    name: str
    unet: UNetConfig | None
    #: "eps" or "v"
    prediction: str = "eps"
    latent_scale: float = 0.18215
    #: the text encoder: "l" (CLIP-L), "h" (OpenCLIP-H), "lg" (SDXL's L and G), "g" (refiner), None
    clip_kind: str | None = "l"
    #: where the text encoder's keys start in the checkpoint
    clip_prefix: str = "cond_stage_model.transformer."
    #: False for a family that is detected but cannot be loaded
    supported: bool = True


Detector = Callable[[Mapping[str, torch.Tensor], UNetConfig], ModelFamily | None]


def detect_sd15(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> ModelFamily | None:
    if cfg.model_channels == 320 and cfg.context_dim == 768 and not cfg.use_linear and cfg.adm_in_channels is None:
        return ModelFamily("sd15", cfg)
    return None


def is_v_prediction_sd2(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> bool:
    """ComfyUI's SD20 test: population std of output_blocks.11.1's first norm1.bias above 0.09 (in_channels 4)."""
    key = UNET_PREFIX + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
    if cfg.in_channels != 4 or key not in sd:
        return False
    return float(sd[key].float().std(unbiased=False)) > 0.09


def detect_sd2(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> ModelFamily | None:
    if cfg.model_channels == 320 and cfg.context_dim == 1024 and cfg.use_linear and cfg.adm_in_channels is None:
        if is_v_prediction_sd2(sd, cfg):
            return ModelFamily("sd21v", cfg, prediction="v", clip_kind="h", clip_prefix="cond_stage_model.model.")
        return ModelFamily("sd20", cfg, clip_kind="h", clip_prefix="cond_stage_model.model.")
    return None


def detect_sd21_unclip(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> ModelFamily | None:
    """SD2.1 unCLIP: the SD2 UNet with a class embedding of a CLIP image embedding + its noise level (ViT-L 1536,
    ViT-H 2048)."""
    if cfg.model_channels == 320 and cfg.context_dim == 1024 and cfg.use_linear and cfg.adm_in_channels in (1536,
                                                                                                            2048):
        name = "sd21_unclip_l" if cfg.adm_in_channels == 1536 else "sd21_unclip_h"
        prediction = "v" if is_v_prediction_sd2(sd, cfg) else "eps"
        return ModelFamily(name, cfg, prediction=prediction, clip_kind="h", clip_prefix="cond_stage_model.model.")
    return None


def detect_sdxl(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> ModelFamily | None:
    if cfg.model_channels == 320 and cfg.context_dim == 2048 and cfg.use_linear and cfg.adm_in_channels == 2816:
        prediction = "v" if "v_pred" in sd or "edm_vpred.sigma_max" in sd else "eps"
        return ModelFamily("sdxl", cfg, prediction=prediction, latent_scale=0.13025, clip_kind="lg",
                           clip_prefix="conditioner.embedders.")
    return None


def detect_sdxl_refiner(sd: Mapping[str, torch.Tensor], cfg: UNetConfig) -> ModelFamily | None:
    if cfg.model_channels == 384 and cfg.context_dim == 1280 and cfg.use_linear and cfg.adm_in_channels == 2560:
        return ModelFamily("sdxl_refiner", cfg, latent_scale=0.13025, clip_kind="g",
                           clip_prefix="conditioner.embedders.0.")
    return None


#: first match wins, in ComfyUI's order
DETECTORS: tuple[Detector, ...] = (detect_sd15, detect_sd2, detect_sd21_unclip, detect_sdxl, detect_sdxl_refiner)


def describe_keys(keys: list[str], limit: int = 6) -> str:
    """A short account of a state dict for error messages: key count and the commonest key prefixes."""
    heads = Counter(".".join(k.split(".")[:2]) for k in keys)
    common = ", ".join(f"{p}.* ({n})" for p, n in heads.most_common(limit))
    return f"{len(keys)} tensors; commonest prefixes: {common or 'none'}"


def detect_family(sd: Mapping[str, torch.Tensor], path: str | Path = "<state dict>",
                  prefix: str = UNET_PREFIX) -> ModelFamily:
    """The family of a checkpoint (or UNet file, with ``prefix`` ""), else UnknownArchitecture."""
    cfg = unet_config_from_keys(sd, prefix)
    if cfg is None:
        raise UnknownArchitecture(path, f"no Stable Diffusion UNet found under {prefix!r}: {describe_keys(list(sd))}")
    for detector in DETECTORS:
        family = detector(sd if prefix == UNET_PREFIX else _Prefixed(sd, prefix), cfg)
        if family is not None:
            return family
    raise UnknownArchitecture(path, f"UNet of unknown family (model_channels={cfg.model_channels}, "
                                    f"context_dim={cfg.context_dim}, linear proj_in={cfg.use_linear}, "
                                    f"adm_in_channels={cfg.adm_in_channels}, in_channels={cfg.in_channels})")


class _Prefixed(Mapping[str, torch.Tensor]):
    """A bare UNet file seen with the checkpoint's ``model.diffusion_model.`` prefix."""

    def __init__(self, sd: Mapping[str, torch.Tensor], prefix: str) -> None:
        self.sd, self.prefix = sd, prefix

    def __getitem__(self, key: str) -> torch.Tensor:
        if not key.startswith(UNET_PREFIX):
            raise KeyError(key)
        return self.sd[self.prefix + key[len(UNET_PREFIX):]]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (UNET_PREFIX + k[len(self.prefix):] for k in self.sd if k.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def find_prefix(keys: list[str] | set[str], marker: str, candidates: tuple[str, ...]) -> str | None:
    """The first candidate prefix under which ``marker`` is a key."""
    present = set(keys)
    for prefix in candidates:
        if prefix + marker in present:
            return prefix
    return None


UNET_PREFIXES = ("model.diffusion_model.", "", "diffusion_model.", "model.")
VAE_PREFIXES = ("first_stage_model.", "", "vae.")
#: prefixes of CLIP-L (transformers layout) and of the ``text_model.`` inside it
CLIP_L_PREFIXES = ("cond_stage_model.transformer.", "", "transformer.", "conditioner.embedders.0.transformer.",
                   "text_encoders.clip_l.transformer.")
#: prefixes of OpenCLIP text towers (``transformer.resblocks.*`` inside)
OPEN_CLIP_PREFIXES = ("cond_stage_model.model.", "", "model.", "conditioner.embedders.1.model.",
                      "conditioner.embedders.0.model.")


def detect_clip_kind(keys: list[str] | set[str], path: str | Path = "<state dict>") -> tuple[str, str, str]:
    """("l"|"h"|"g", layout, prefix) of a text encoder inside ``keys``: layout "hf" (transformers' CLIPTextModel
    names, ``prefix`` ends before ``embeddings.``) or "open_clip" (``prefix`` ends before ``transformer.``).
    The kind is told by depth as ComfyUI's ``detect_te_model``: a layer 30 is bigG, a layer 22 is H, else L."""
    present = set(keys)
    candidates = tuple(p + "text_model." for p in CLIP_L_PREFIXES) + CLIP_L_PREFIXES
    hf = find_prefix(present, "final_layer_norm.weight", candidates)
    if hf is not None and hf + "encoder.layers.0.mlp.fc1.weight" in present:
        if f"{hf}encoder.layers.30.mlp.fc1.weight" in present:
            return "g", "hf", hf
        return ("h" if f"{hf}encoder.layers.23.mlp.fc1.weight" in present else "l"), "hf", hf
    oc = find_prefix(present, "transformer.resblocks.0.attn.in_proj_weight", OPEN_CLIP_PREFIXES)
    if oc is not None:
        return ("g" if f"{oc}transformer.resblocks.30.attn.in_proj_weight" in present else "h"), "open_clip", oc
    raise UnknownArchitecture(path, f"no CLIP text encoder found: {describe_keys(list(keys))}")


__all__ = ["DETECTORS", "ModelFamily", "UNET_PREFIX", "VAE_PREFIX", "describe_keys", "detect_clip_kind",
           "detect_family", "detect_sd15", "detect_sd2", "detect_sdxl", "detect_sdxl_refiner", "find_prefix",
           "is_v_prediction_sd2"]
