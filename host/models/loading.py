"""Load checkpoints and separate UNet / CLIP / VAE files into the values nodes pass around.

Latents follow ComfyUI: ``LATENT["samples"]`` is the VAE's own (unscaled) latent; ``VAE.encode`` returns it and
``VAE.decode`` takes it. The sampler multiplies by ``DiffusionModel.latent_scale`` on the way in and divides on
the way out (ComfyUI's ``process_latent_in``/``out``).

Dtypes (``dtype_policy``: an object with ``torch_dtype(component)`` for "unet", "vae", "text_encoder",
"text_encoder_compute", as host.models.devices.DtypePolicy; None means the CPU policy): UNet weights converted
to its dtype (fp32 on the CPU); VAE likewise; CLIP weights rounded to the text encoder's storage dtype (fp16)
and computed in its compute dtype (fp32 on the CPU), which is ComfyUI's arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from host.models.checkpoint import open_state_dict
from host.models.clip_model import ClipTextModel, clip_spec_from_keys, convert_open_clip
from host.models.conditioning import TextEncoder
from host.models.detect import (
    UNET_PREFIX,
    UNET_PREFIXES,
    VAE_PREFIXES,
    ModelFamily,
    describe_keys,
    detect_clip_kind,
    detect_family,
    find_prefix,
)
from host.models.errors import UnknownArchitecture, WeightMismatch
from host.models.unet import UNetModel
from host.models.vae import AutoencoderKL, vae_config_from_keys

_CPU_POLICY = {"unet": torch.float32, "vae": torch.float32, "text_encoder": torch.float16,
               "text_encoder_compute": torch.float32}


def _dtype(policy: Any, component: str) -> torch.dtype:
    if policy is None:
        return _CPU_POLICY[component]
    return policy.torch_dtype(component)


def _nbytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def assign_weights(module: nn.Module, sd: Mapping[str, torch.Tensor], prefix: str, path: Path | str,
                   dtype: torch.dtype, device: Any, via: torch.dtype | None = None) -> set[str]:
    """Key-for-key copy of ``sd[prefix + name]`` into a module built on the meta device (shapes checked);
    floats go to ``dtype`` (through ``via`` first when given: the storage rounding of CLIP weights)."""
    expected = module.state_dict()
    missing = [k for k in expected if prefix + k not in sd]
    if missing:
        raise WeightMismatch(path, f"{len(missing)} weights missing under {prefix!r}, e.g. {missing[:4]}")
    loaded = {}
    for key, ref in expected.items():
        t = sd[prefix + key]
        if tuple(t.shape) != tuple(ref.shape):
            raise WeightMismatch(path, f"{prefix}{key} has shape {tuple(t.shape)}, the architecture wants "
                                       f"{tuple(ref.shape)}")
        if t.is_floating_point():
            t = t.to(via) if via is not None else t
            t = t.to(device=device, dtype=dtype)
        else:
            t = t.to(device)
        loaded[key] = t
    module.load_state_dict(loaded, strict=True, assign=True)
    module.eval().requires_grad_(False)
    return {prefix + k for k in loaded}


@dataclass
class DiffusionModel:
    """The MODEL value: ``unet(x, timesteps, context=ctx, y=None)`` in ``dtype`` on ``device``."""

    unet: UNetModel
    family: ModelFamily
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    latent_channels: int = 4
    used_keys: set[str] = field(default_factory=set, repr=False)

    @property
    def prediction(self) -> str:
        return self.family.prediction

    @property
    def latent_scale(self) -> float:
        return self.family.latent_scale

    def to(self, device: Any) -> DiffusionModel:
        self.unet.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return _nbytes(self.unet)


@dataclass
class VAE:
    """The VAE value. IMAGE is [B,H,W,3] fp32 in 0..1; latents are the raw LATENT["samples"]."""

    model: AutoencoderKL
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    downscale: int = 8
    latent_channels: int = 4
    used_keys: set[str] = field(default_factory=set, repr=False)

    def to(self, device: Any) -> VAE:
        self.model.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return _nbytes(self.model)

    @torch.no_grad()
    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        x = self.model.decode(samples.to(self.device, self.dtype))
        return torch.clamp((x.float() + 1.0) / 2.0, 0.0, 1.0).movedim(1, -1).cpu()

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """Centre-crop to multiples of 8 (offset (dim mod 8)//2), as VAEEncode does."""
        h, w = image.shape[1], image.shape[2]
        nh, nw = h // 8 * 8, w // 8 * 8
        oh, ow = (h % 8) // 2, (w % 8) // 2
        return image[:, oh:oh + nh, ow:ow + nw, :]

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        x = self.crop(image[..., :3]).movedim(-1, 1).to(self.device, self.dtype) * 2.0 - 1.0
        return self.model.encode(x).float().cpu()

    def decode_tiled(self, samples: torch.Tensor, tile_x: int = 64, tile_y: int = 64,
                     overlap: int = 16) -> torch.Tensor:
        from host.models.vae_tiling import tiled

        return tiled(self.decode, samples.float(), tile_x, tile_y, overlap, 8, out_channels=3, channels_last=True)

    def encode_tiled(self, image: torch.Tensor, tile_x: int = 512, tile_y: int = 512,
                     overlap: int = 64) -> torch.Tensor:
        from host.models.vae_tiling import tiled

        x = self.crop(image[..., :3]).movedim(-1, 1)
        return tiled(lambda t: self.encode(t.movedim(1, -1)), x, tile_x, tile_y, overlap, 1 / 8,
                     out_channels=self.latent_channels)


@dataclass
class Checkpoint:
    model: DiffusionModel | None
    clip: TextEncoder | None
    vae: VAE | None
    family: ModelFamily
    path: Path = field(default_factory=Path)
    #: checkpoint keys no loaded part used (empty for a well-formed file of a known family)
    unused_keys: list[str] = field(default_factory=list)


def _build_unet(sd: Mapping[str, torch.Tensor], family: ModelFamily, prefix: str, path: Path, device: Any,
                policy: Any) -> DiffusionModel:
    if not family.supported or family.unet is None:
        raise UnknownArchitecture(path, f"{family.name} is detected but not supported yet")
    dtype = _dtype(policy, "unet")
    with torch.device("meta"):
        unet = UNetModel(family.unet)
    used = assign_weights(unet, sd, prefix, path, dtype, device)
    return DiffusionModel(unet, family, device=device, dtype=dtype, latent_channels=family.unet.out_channels,
                          used_keys=used)


def _build_vae(sd: Mapping[str, torch.Tensor], prefix: str, path: Path, device: Any, policy: Any) -> VAE:
    shape = getattr(sd, "shape", None) or (lambda k: tuple(sd[k].shape))
    cfg = vae_config_from_keys(set(sd), shape, prefix)
    dtype = _dtype(policy, "vae")
    with torch.device("meta"):
        model = AutoencoderKL(cfg)
    used = assign_weights(model, sd, prefix, path, dtype, device)
    return VAE(model, device=device, dtype=dtype, downscale=2 ** (len(cfg.ch_mult) - 1),
               latent_channels=cfg.z_channels, used_keys=used)


def _build_clip(sd: Mapping[str, torch.Tensor], path: Path, device: Any, policy: Any,
                embedding_dirs: list[Path] | None, prefix_hint: str = "") -> TextEncoder:
    keys = [k for k in sd if k.startswith(prefix_hint)]
    kind, layout, src = detect_clip_kind(keys, path)
    mine = [k for k in keys if k.startswith(src)]
    if layout == "open_clip":
        tensors: Mapping[str, torch.Tensor] = convert_open_clip({k[len(src):]: sd[k] for k in mine})
        used = {k for k in mine if not k.endswith(("logit_scale", "attn_mask"))}
    else:
        tensors = {("transformer." + k[len(src):]): sd[k] for k in mine}
        used = {k for k in mine if k.endswith("position_ids")}
    prefix = ""
    spec = clip_spec_from_keys(kind, tensors)
    with torch.device("meta"):
        model = ClipTextModel(spec)
    compute = _dtype(policy, "text_encoder_compute")
    proj = "text_projection.weight"
    if spec.projected_pool and proj not in tensors:
        tensors = dict(tensors) | {proj: torch.eye(spec.width)}
    loaded = assign_weights(model, tensors, prefix, path, compute, device, via=_dtype(policy, "text_encoder"))
    if layout == "hf":
        used |= {src + k[len("transformer."):] for k in loaded}
    emb = model.transformer.embeddings
    emb.register_buffer("position_ids", torch.arange(77, device=device)[None], persistent=False)
    clip = TextEncoder(model, embedding_dirs=list(embedding_dirs or []), device=device)
    clip.used_keys = used
    return clip


def load_checkpoint(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None, want_unet: bool = True,
                    want_clip: bool = True, want_vae: bool = True,
                    embedding_dirs: list[Path] | None = None) -> Checkpoint:
    """A full checkpoint (UNet + CLIP + VAE in the LDM layout); any part can be skipped."""
    path = Path(path)
    sd = open_state_dict(path)
    family = detect_family(sd, path)
    model = _build_unet(sd, family, UNET_PREFIX, path, device, dtype_policy) if want_unet else None
    clip = None
    if want_clip and family.clip_kind in ("lg", "g"):
        from host.models.sdxl import build_sdxl_clip

        clip = build_sdxl_clip(sd, family, path, device, dtype_policy, embedding_dirs)
    elif want_clip:
        clip = _build_clip(sd, path, device, dtype_policy, embedding_dirs, prefix_hint="cond_stage_model.")
    vae = _build_vae(sd, "first_stage_model.", path, device, dtype_policy) if want_vae else None
    used = set().union(*(p.used_keys for p in (model, clip, vae) if p is not None))
    unused = [k for k in sd if k not in used] if want_unet and want_clip and want_vae else []
    return Checkpoint(model, clip, vae, family, path, unused)


def load_unet(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None, **_: Any) -> DiffusionModel:
    """A UNet-only file (bare keys, or under ``model.diffusion_model.``)."""
    path = Path(path)
    sd = open_state_dict(path)
    prefix = find_prefix(set(sd), "input_blocks.0.0.weight", UNET_PREFIXES)
    if prefix is None:
        raise UnknownArchitecture(path, f"no SD UNet found: {describe_keys(list(sd))}")
    family = detect_family(sd, path, prefix=prefix)
    return _build_unet(sd, family, prefix, path, device, dtype_policy)


def load_clip(path: str | Path, kind: str = "stable_diffusion", *, device: Any = "cpu", dtype_policy: Any = None,
              embedding_dirs: list[Path] | None = None, **_: Any) -> TextEncoder:
    """A text-encoder file for CLIPLoader's ``type`` (the encoder itself is told from the keys)."""
    from host.models.sdxl import load_clip_file

    path = Path(path)
    return load_clip_file(path, kind, open_state_dict(path), device=device, dtype_policy=dtype_policy,
                          embedding_dirs=embedding_dirs)


def load_dual_clip(paths: tuple[str | Path, str | Path], kind: str = "sdxl", *, device: Any = "cpu",
                   dtype_policy: Any = None, embedding_dirs: list[Path] | None = None, **_: Any) -> Any:
    """DualCLIPLoader's two text-encoder files for ``type`` (SDXL: CLIP-L and OpenCLIP-bigG, either order)."""
    from host.models.sdxl import load_dual_clip as dual

    both = (Path(paths[0]), Path(paths[1]))
    return dual(both, kind, tuple(open_state_dict(p) for p in both), device=device, dtype_policy=dtype_policy,
                embedding_dirs=embedding_dirs)


def load_vae(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None, **_: Any) -> VAE:
    path = Path(path)
    sd = open_state_dict(path)
    prefix = find_prefix(set(sd), "decoder.conv_in.weight", VAE_PREFIXES)
    if prefix is None or prefix + "encoder.conv_in.weight" not in sd:
        raise UnknownArchitecture(path, f"no KL VAE found: {describe_keys(list(sd))}")
    return _build_vae(sd, prefix, path, device, dtype_policy)


__all__ = ["VAE", "Checkpoint", "DiffusionModel", "assign_weights", "load_checkpoint", "load_clip", "load_dual_clip",
           "load_unet", "load_vae"]
