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
from host.models.errors import UnknownArchitecture
from host.models.lazy import LazyWeights, check_weights, lazy, materialize
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


def _move(module: nn.Module, weights: LazyWeights | None, device: Any) -> None:
    if weights is not None:
        weights.move(device)
    else:
        module.to(device)


def assign_weights(module: nn.Module, sd: Mapping[str, torch.Tensor], prefix: str, path: Path | str,
                   dtype: torch.dtype, device: Any, via: torch.dtype | None = None) -> set[str]:
    """Key-for-key copy of ``sd[prefix + name]`` into a module built on the meta device, now (shapes checked);
    floats go to ``dtype`` (through ``via`` first when given: the storage rounding of CLIP weights)."""
    tensors = check_weights(module, sd, prefix, path)
    materialize(module, tensors, dtype, device, via)
    return {prefix + k for k in tensors}


@dataclass
class DiffusionModel:
    """The MODEL value: ``unet(x, timesteps, context=ctx, y=None)`` in ``dtype`` on ``device``."""

    module: UNetModel
    family: ModelFamily
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    latent_channels: int = 4
    used_keys: set[str] = field(default_factory=set, repr=False)
    #: the weights, when they are still in the file (read on first use of ``unet``)
    weights: LazyWeights | None = field(default=None, repr=False)
    #: ComfyUI's ``sampler_pre_cfg_function`` list: each ``fn(args) -> conds_out`` sees the cond and uncond
    #: predictions before CFG combines them (LatentApplyOperationCFG adds one to a copy sharing the UNet)
    pre_cfg_functions: tuple[Any, ...] = ()

    @property
    def unet(self) -> UNetModel:
        """The UNet with its weights (loaded from the file now if this is their first use)."""
        return self.weights.ensure() if self.weights is not None else self.module

    @property
    def prediction(self) -> str:
        return self.family.prediction

    @property
    def latent_scale(self) -> float:
        return self.family.latent_scale

    def to(self, device: Any) -> DiffusionModel:
        _move(self.module, self.weights, device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return self.weights.nbytes() if self.weights is not None else _nbytes(self.module)


@dataclass
class VAE:
    """The VAE value. IMAGE is [B,H,W,3] fp32 in 0..1; latents are the raw LATENT["samples"]."""

    module: AutoencoderKL
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    downscale: int = 8
    latent_channels: int = 4
    used_keys: set[str] = field(default_factory=set, repr=False)
    weights: LazyWeights | None = field(default=None, repr=False)

    @property
    def model(self) -> AutoencoderKL:
        """The autoencoder with its weights (loaded from the file now if this is their first use)."""
        return self.weights.ensure() if self.weights is not None else self.module

    def _compute(self, x: torch.Tensor) -> tuple[AutoencoderKL, torch.Tensor]:
        """The module and ``x`` ready for it. On the CPU both go channels-last (oneDNN convolves NHWC without
        reordering each activation to its blocked layout and back: measured 11% less CPU time for a 512x512
        decode; pixels equal within 0.006/255)."""
        model = self.model
        x = x.to(self.device, self.dtype)
        if torch.device(self.device).type == "cpu" and x.dim() == 4:
            model.to(memory_format=torch.channels_last)  # a no-op once its weights are channels-last
            x = x.contiguous(memory_format=torch.channels_last)
        return model, x

    def to(self, device: Any) -> VAE:
        _move(self.module, self.weights, device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return self.weights.nbytes() if self.weights is not None else _nbytes(self.module)

    @torch.no_grad()
    def decode(self, samples: torch.Tensor) -> torch.Tensor:
        model, z = self._compute(samples)
        x = model.decode(z)
        return torch.clamp((x.float() + 1.0) / 2.0, 0.0, 1.0).movedim(1, -1).cpu()

    def crop(self, image: torch.Tensor) -> torch.Tensor:
        """Centre-crop to multiples of 8 (offset (dim mod 8)//2), as VAEEncode does."""
        h, w = image.shape[1], image.shape[2]
        nh, nw = h // 8 * 8, w // 8 * 8
        oh, ow = (h % 8) // 2, (w % 8) // 2
        return image[:, oh:oh + nh, ow:ow + nw, :]

    @torch.no_grad()
    def encode(self, image: torch.Tensor) -> torch.Tensor:
        model, x = self._compute(self.crop(image[..., :3]).movedim(-1, 1) * 2.0 - 1.0)
        return model.encode(x).float().contiguous().cpu()

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


#: UNETLoader's ``weight_dtype`` choices -> the dtype the UNet's weights are stored in
WEIGHT_DTYPES = {"fp8_e4m3fn": torch.float8_e4m3fn, "fp8_e4m3fn_fast": torch.float8_e4m3fn,
                 "fp8_e5m2": torch.float8_e5m2}
_COMPUTABLE = (torch.float32, torch.float16, torch.bfloat16)


def compute_dtype(storage: torch.dtype, device: Any) -> torch.dtype:
    """What a UNet stored in ``storage`` computes in: itself, or for fp8 weights (cast per layer, as ComfyUI's
    manual cast) fp32 on the CPU and fp16 on a GPU."""
    if storage in _COMPUTABLE:
        return storage
    return torch.float32 if torch.device(device).type == "cpu" else torch.float16


def _build_unet(sd: Mapping[str, torch.Tensor], family: ModelFamily, prefix: str, path: Path, device: Any,
                policy: Any, storage: torch.dtype | None = None) -> DiffusionModel:
    if not family.supported or family.unet is None:
        raise UnknownArchitecture(path, f"{family.name} is detected but not supported yet")
    storage = storage or _dtype(policy, "unet")
    with torch.device("meta"):
        unet = UNetModel(family.unet)
    weights, used = lazy(unet, sd, prefix, path, storage, device)
    return DiffusionModel(unet, family, device=device, dtype=compute_dtype(storage, device),
                          latent_channels=family.unet.out_channels, used_keys=used, weights=weights)


def _build_vae(sd: Mapping[str, torch.Tensor], prefix: str, path: Path, device: Any, policy: Any) -> VAE:
    shape = getattr(sd, "shape", None) or (lambda k: tuple(sd[k].shape))
    cfg = vae_config_from_keys(set(sd), shape, prefix)
    dtype = _dtype(policy, "vae")
    with torch.device("meta"):
        model = AutoencoderKL(cfg)
    # on the CPU the VAE computes channels-last (VAE._compute): its conv weights are loaded in that layout
    layout = torch.channels_last if torch.device(device).type == "cpu" else None
    weights, used = lazy(model, sd, prefix, path, dtype, device, memory_format=layout)
    return VAE(model, device=device, dtype=dtype, downscale=2 ** (len(cfg.ch_mult) - 1),
               latent_channels=cfg.z_channels, used_keys=used, weights=weights)


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
    weights, loaded = lazy(model, tensors, prefix, path, compute, device, via=_dtype(policy, "text_encoder"),
                           after=_position_ids, mapped=layout == "hf" and bool(getattr(sd, "mapped", False)))
    if layout == "hf":
        used |= {src + k[len("transformer."):] for k in loaded}
    clip = TextEncoder(model, embedding_dirs=list(embedding_dirs or []), device=device, weights=weights)
    clip.used_keys = used
    return clip


def _position_ids(model: nn.Module, device: Any) -> None:
    emb = model.transformer.embeddings
    emb.register_buffer("position_ids", torch.arange(77, device=device)[None], persistent=False)


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


def load_unet(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None, weight_dtype: str = "default",
              **_: Any) -> DiffusionModel:
    """A UNet-only file (bare keys, or under ``model.diffusion_model.``); ``weight_dtype`` as UNETLoader's
    (``default`` or an fp8 kind: weights stored in fp8, computed in the compute dtype)."""
    path = Path(path)
    sd = open_state_dict(path)
    prefix = find_prefix(set(sd), "input_blocks.0.0.weight", UNET_PREFIXES)
    if prefix is None:
        raise UnknownArchitecture(path, f"no SD UNet found: {describe_keys(list(sd))}")
    family = detect_family(sd, path, prefix=prefix)
    return _build_unet(sd, family, prefix, path, device, dtype_policy, WEIGHT_DTYPES.get(weight_dtype))


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


__all__ = ["VAE", "WEIGHT_DTYPES", "Checkpoint", "DiffusionModel", "assign_weights", "compute_dtype",
           "load_checkpoint", "load_clip", "load_dual_clip", "load_unet", "load_vae"]
