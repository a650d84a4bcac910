"""CLIP vision towers (CLIPVisionLoader, CLIPVisionEncode) through ``transformers.CLIPVisionModelWithProjection``,
whose key names are ComfyUI's clip_vision layout (``vision_model.embeddings.*``, ``vision_model.pre_layrnorm``,
``vision_model.encoder.layers.i.*``, ``vision_model.post_layernorm``, ``visual_projection``). OpenCLIP towers
(``visual.conv1``, ``visual.transformer.resblocks.*``, ``visual.proj``; inside unCLIP checkpoints under
``embedder.model.``) are converted at load.

The shape is read from the keys: width and patch from the patch embedding, image size from the position table,
depth, MLP width, projection width; 16 heads (ViT-L, H and bigG all have 16); quick-GELU for ViT-L (width 1024),
erf GELU otherwise. Weights are stored in the text encoder dtype and computed in its compute dtype, as ComfyUI.

Encoding (ComfyUI's ``clip_preprocess``): RGB only; unless already size x size, resized bicubic with antialias,
either so the short side is the size and then centre-cropped (crop "center") or squashed to the square ("none");
rounded to 8 bits (clip(255x).round()/255); normalised by CLIP's mean and std. The output holds
``last_hidden_state`` (the encoder output, no post-LN), ``penultimate_hidden_states`` (layer -2) and
``image_embeds`` (post-LN class token, projected).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from host.models.checkpoint import open_state_dict
from host.models.detect import describe_keys
from host.models.errors import UnknownArchitecture

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: where a vision tower's keys start: bare, in an unCLIP checkpoint, in an SDXL-style conditioner
HF_PREFIXES = ("", "clip_vision.", "cond_stage_model.")
OPEN_CLIP_PREFIXES = ("visual.", "embedder.model.visual.", "conditioner.embedders.0.model.visual.", "model.visual.")


class ClipVisionOutput(dict):
    """CLIP_VISION_OUTPUT: a dict whose entries are attributes too (``out.image_embeds``, ``out["..."]``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class VisionSpec:
    width: int
    layers: int
    mlp: int
    patch: int
    image_size: int
    projection: int
    heads: int = 16

    @property
    def act(self) -> str:
        return "quick_gelu" if self.width == 1024 else "gelu"


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    getter = getattr(sd, "shape", None)
    return tuple(getter(key)) if callable(getter) else tuple(sd[key].shape)


def vision_spec_from_keys(sd: Mapping[str, torch.Tensor], path: Path | str = "<state dict>") -> VisionSpec:
    p = "vision_model."
    if p + "embeddings.patch_embedding.weight" not in sd or "visual_projection.weight" not in sd:
        raise UnknownArchitecture(path, f"no CLIP vision model found: {describe_keys(list(sd))}")
    width, _, patch, _ = _shape(sd, p + "embeddings.patch_embedding.weight")
    positions = _shape(sd, p + "embeddings.position_embedding.weight")[0]
    layers = 0
    while f"{p}encoder.layers.{layers}.mlp.fc1.weight" in sd:
        layers += 1
    return VisionSpec(width=width, layers=layers, mlp=_shape(sd, f"{p}encoder.layers.0.mlp.fc1.weight")[0],
                      patch=patch, image_size=math.isqrt(positions - 1) * patch,
                      projection=_shape(sd, "visual_projection.weight")[0])


def convert_open_clip_visual(sd: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """An OpenCLIP visual tower (keys under ``prefix``) in CLIPVisionModelWithProjection names."""
    v = "vision_model."
    names = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
             "attn.out_proj": "self_attn.out_proj"}
    direct = {"conv1.weight": v + "embeddings.patch_embedding.weight",
              "class_embedding": v + "embeddings.class_embedding",
              "positional_embedding": v + "embeddings.position_embedding.weight",
              "ln_pre.weight": v + "pre_layrnorm.weight", "ln_pre.bias": v + "pre_layrnorm.bias",
              "ln_post.weight": v + "post_layernorm.weight", "ln_post.bias": v + "post_layernorm.bias"}
    out: dict[str, torch.Tensor] = {}
    for key in sd:
        if not key.startswith(prefix):
            continue
        k, t = key[len(prefix):], sd[key]
        if k in direct:
            out[direct[k]] = t
        elif k == "proj":
            out["visual_projection.weight"] = t.transpose(0, 1).contiguous()
        elif k.startswith("transformer.resblocks."):
            i, rest = k[len("transformer.resblocks."):].split(".", 1)
            p = f"{v}encoder.layers.{i}."
            if rest.startswith("attn.in_proj_"):
                suffix = rest.rsplit("_", 1)[1]
                for name, part in zip(("q_proj", "k_proj", "v_proj"), t.chunk(3, dim=0), strict=True):
                    out[f"{p}self_attn.{name}.{suffix}"] = part.contiguous()
            else:
                head, suffix = rest.rsplit(".", 1)
                if head in names:
                    out[f"{p}{names[head]}.{suffix}"] = t
    return out


def vision_tensors(sd: Mapping[str, torch.Tensor], path: Path | str) -> Mapping[str, torch.Tensor]:
    """The vision tower inside ``sd`` in CLIPVisionModelWithProjection names (UnknownArchitecture if none)."""
    keys = set(sd)
    for prefix in OPEN_CLIP_PREFIXES:
        if prefix + "transformer.resblocks.0.attn.in_proj_weight" in keys:
            return convert_open_clip_visual(sd, prefix)
    for prefix in HF_PREFIXES:
        if prefix + "vision_model.embeddings.patch_embedding.weight" in keys:
            return {k[len(prefix):]: sd[k] for k in keys if k.startswith(prefix)} if prefix else sd
    raise UnknownArchitecture(path, f"no CLIP vision model found: {describe_keys(list(sd))}")


def preprocess(image: torch.Tensor, size: int, crop: bool = True) -> torch.Tensor:
    """IMAGE [B,H,W,C] -> normalised pixel values [B,3,size,size] (ComfyUI's ``clip_preprocess``)."""
    x = image[..., :3].movedim(-1, 1).float()
    if x.shape[2] != size or x.shape[3] != size:
        if crop:
            scale = size / min(x.shape[2], x.shape[3])
            target = (round(scale * x.shape[2]), round(scale * x.shape[3]))
        else:
            target = (size, size)
        x = F.interpolate(x, size=target, mode="bicubic", antialias=True)
        h, w = (x.shape[2] - size) // 2, (x.shape[3] - size) // 2
        x = x[:, :, h:h + size, w:w + size]
    x = torch.clip(255.0 * x, 0, 255).round() / 255.0
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@dataclass(eq=False)
class ClipVision:
    """The CLIP_VISION value."""

    model: Any  # transformers.CLIPVisionModelWithProjection
    spec: VisionSpec
    device: Any = "cpu"
    dtype: torch.dtype = torch.float32
    path: Path | None = None
    used_keys: set[str] = field(default_factory=set, repr=False)

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    def to(self, device: Any) -> ClipVision:
        self.model.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.model.parameters(), *self.model.buffers()))

    @torch.no_grad()
    def encode_image(self, image: torch.Tensor, crop: bool = True) -> ClipVisionOutput:
        pixels = preprocess(image.to(self.device), self.spec.image_size, crop).to(self.dtype)
        out = self.model(pixel_values=pixels, output_hidden_states=True)
        return ClipVisionOutput(last_hidden_state=out.last_hidden_state.float().cpu(),
                                penultimate_hidden_states=out.hidden_states[-2].float().cpu(),
                                image_embeds=out.image_embeds.float().cpu())


def build_clip_vision(sd: Mapping[str, torch.Tensor], path: Path | str, device: Any = "cpu",
                      dtype_policy: Any = None) -> ClipVision:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from host.models.loading import assign_weights

    tensors = vision_tensors(sd, path)
    spec = vision_spec_from_keys(tensors, path)
    cfg = CLIPVisionConfig(hidden_size=spec.width, intermediate_size=spec.mlp, num_hidden_layers=spec.layers,
                           num_attention_heads=spec.heads, image_size=spec.image_size, patch_size=spec.patch,
                           projection_dim=spec.projection, hidden_act=spec.act, layer_norm_eps=1e-5)
    cfg._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = CLIPVisionModelWithProjection(cfg)
    storage = torch.float16 if dtype_policy is None else dtype_policy.torch_dtype("text_encoder")
    compute = torch.float32 if dtype_policy is None else dtype_policy.torch_dtype("text_encoder_compute")
    emb = model.vision_model.embeddings
    positions = (spec.image_size // spec.patch) ** 2 + 1
    wanted = set(model.state_dict())
    tensors = {k: tensors[k] for k in tensors if k in wanted}
    if "vision_model.embeddings.position_ids" in wanted:
        tensors["vision_model.embeddings.position_ids"] = torch.arange(positions)[None]
    used = assign_weights(model, tensors, "", Path(path), compute, device, via=storage)
    # transformers keeps position_ids out of the state dict: made here, on the device
    emb.register_buffer("position_ids", torch.arange(positions, device=device)[None], persistent=False)
    return ClipVision(model, spec, device=device, dtype=compute, path=Path(path), used_keys=used)


def load_clip_vision(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None) -> ClipVision:
    path = Path(path)
    return build_clip_vision(open_state_dict(path), path, device, dtype_policy)


__all__ = ["ClipVision", "ClipVisionOutput", "VisionSpec", "build_clip_vision", "load_clip_vision", "preprocess",
           "vision_spec_from_keys"]
