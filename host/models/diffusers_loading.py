"""DiffusersLoader: a diffusers model folder (``model_index.json`` with ``unet/``, ``vae/``, ``text_encoder/``)
loaded as MODEL, CLIP and VAE. The UNet's and the VAE's diffusers names are renamed to the LDM layout lazily (a
renaming view over the memory-mapped files; the VAE's attention projections become 1x1 convs), then built by
``host.models.loading`` like a checkpoint's parts; the text encoder is a transformers CLIPTextModel already.

UNet renames, with n ResBlocks per level: ``down_blocks.i.{resnets,attentions}.j`` -> ``input_blocks.(1 + i(n+1)
+ j).{0,1}``, ``down_blocks.i.downsamplers.0.conv`` -> ``input_blocks.((i+1)(n+1)).0.op``, ``up_blocks.i.{resnets,
attentions}.j`` -> ``output_blocks.(i(n+1) + j).{0,1}``, ``up_blocks.i.upsamplers.0`` -> the last of its output
blocks, after its attention if any; ``mid_block`` -> ``middle_block.{0,1,2}``; ResBlock parts norm1/conv1/
time_emb_proj/norm2/conv2/conv_shortcut -> in_layers.0/in_layers.2/emb_layers.1/out_layers.0/out_layers.3/
skip_connection; ``time_embedding.linear_k`` / ``add_embedding.linear_k`` -> ``time_embed`` / ``label_emb.0``;
``conv_in``, ``conv_norm_out``, ``conv_out`` -> ``input_blocks.0.0``, ``out.0``, ``out.2``.
VAE renames: ``down_blocks.i.resnets.j`` -> ``down.i.block.j``, ``up_blocks.i`` -> ``up.(L-1-i)``, samplers ->
``downsample``/``upsample``, ``mid_block.resnets.0/1`` -> ``mid.block_1/2``, ``mid_block.attentions.0`` ->
``mid.attn_1`` (group_norm/to_q|query/to_k|key/to_v|value/to_out.0|proj_attn -> norm/q/k/v/proj_out),
``conv_shortcut`` -> ``nin_shortcut``, ``conv_norm_out`` -> ``norm_out``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from host.models.checkpoint import open_state_dict
from host.models.detect import detect_family
from host.models.errors import ModelFileError

WEIGHT_FILES = {"unet": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                         "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin"),
                "vae": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                        "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin"),
                "text_encoder": ("model.safetensors", "model.fp16.safetensors", "pytorch_model.bin",
                                 "pytorch_model.fp16.bin")}
_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0",
           "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "query": "q", "to_k": "k", "key": "k", "to_v": "v", "value": "v",
             "to_out.0": "proj_out", "proj_attn": "proj_out"}


class DiffusersFolderError(ModelFileError):
    """The folder lacks a part (unet, vae, text_encoder weights)."""


class Renamed(Mapping[str, torch.Tensor]):
    """``sd`` seen under new names (``names``: new -> old), each tensor read (and transformed) on access."""

    def __init__(self, sd: Any, names: dict[str, str],
                 transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
                 shape_of: Callable[[str, tuple[int, ...]], tuple[int, ...]] | None = None) -> None:
        self.sd, self.names, self.transform, self.shape_of = sd, names, transform, shape_of

    def __getitem__(self, key: str) -> torch.Tensor:
        t = self.sd[self.names[key]]
        return self.transform(key, t) if self.transform is not None else t

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def shape(self, key: str) -> tuple[int, ...]:
        getter = getattr(self.sd, "shape", None)
        old = self.names[key]
        shape = tuple(getter(old)) if callable(getter) else tuple(self.sd[old].shape)
        return self.shape_of(key, shape) if self.shape_of is not None else shape


def _count(keys: list[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def _resnet_part(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{_RESNET.get(head, head)}.{tail}"


def _block(blocks: str, idx: int, kind: str, rest: str) -> str:
    return f"{blocks}.{idx}.0.{_resnet_part(rest)}" if kind == "resnets" else f"{blocks}.{idx}.1.{rest}"


def unet_names(keys: list[str]) -> dict[str, str]:
    """LDM name -> diffusers name for a UNet2DConditionModel's keys."""
    n = _count(keys, r"down_blocks\.0\.resnets\.(\d+)\.")
    out: dict[str, str] = {}
    fixed = {"conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
             "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
             "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2"}
    up_attn = {int(m.group(1)) for k in keys if (m := re.match(r"up_blocks\.(\d+)\.attentions\.", k))}
    for key in keys:
        new = None
        for src, dst in fixed.items():
            if key.startswith(src + "."):
                new = dst + key[len(src):]
        if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            i, kind, j, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            idx = 1 + i * (n + 1) + j
            new = _block("input_blocks", idx, kind, rest)
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            new = f"input_blocks.{(int(m.group(1)) + 1) * (n + 1)}.0.op.{m.group(2)}"
        elif m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            i, kind, j, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            idx = i * (n + 1) + j
            new = _block("output_blocks", idx, kind, rest)
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            i = int(m.group(1))
            new = f"output_blocks.{i * (n + 1) + n}.{2 if i in up_attn else 1}.conv.{m.group(2)}"
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            new = f"middle_block.{2 * int(m.group(1))}.{_resnet_part(m.group(2))}"
        elif key.startswith("mid_block.attentions.0."):
            new = "middle_block.1." + key[len("mid_block.attentions.0."):]
        if new is not None:
            out[new] = key
    return out


def controlnet_names(keys: list[str]) -> dict[str, str]:
    """LDM (cldm) name -> diffusers name for a diffusers ControlNetModel: its UNet encoder as unet_names, and
    ``controlnet_cond_embedding.{conv_in,blocks.i,conv_out}`` -> ``input_hint_block.{0,2i+2,14}``,
    ``controlnet_down_blocks.i`` -> ``zero_convs.i.0``, ``controlnet_mid_block`` -> ``middle_block_out.0``."""
    out = unet_names(keys)
    for key in keys:
        new = None
        if m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.(.*)", key):
            new = f"input_hint_block.{2 * int(m.group(1)) + 2}.{m.group(2)}"
        elif key.startswith("controlnet_cond_embedding.conv_in."):
            new = "input_hint_block.0." + key.rsplit(".", 1)[1]
        elif key.startswith("controlnet_cond_embedding.conv_out."):
            new = "input_hint_block.14." + key.rsplit(".", 1)[1]
        elif m := re.match(r"controlnet_down_blocks\.(\d+)\.(.*)", key):
            new = f"zero_convs.{m.group(1)}.0.{m.group(2)}"
        elif key.startswith("controlnet_mid_block."):
            new = "middle_block_out.0." + key.rsplit(".", 1)[1]
        if new is not None:
            out[new] = key
    return out


def vae_names(keys: list[str]) -> dict[str, str]:
    """LDM name -> diffusers name for an AutoencoderKL's keys."""
    levels = _count(keys, r"decoder\.up_blocks\.(\d+)\.")
    out: dict[str, str] = {}
    for key in keys:
        new = key.replace("conv_norm_out", "norm_out")
        new = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", new)
        new = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", new)
        if m := re.match(r"decoder\.up_blocks\.(\d+)\.(resnets|upsamplers\.0)\.(.*)", new):
            part = "block." if m.group(2) == "resnets" else "upsample."
            new = f"decoder.up.{levels - 1 - int(m.group(1))}.{part}{m.group(3)}"
        new = re.sub(r"\.mid_block\.resnets\.(\d)\.", lambda m: f".mid.block_{int(m.group(1)) + 1}.", new)
        if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)$", new):
            new = f"{m.group(1)}.mid.attn_1.{_VAE_ATTN.get(m.group(2), m.group(2))}.{m.group(3)}"
        new = new.replace(".conv_shortcut.", ".nin_shortcut.")
        out[new] = key
    return out


def _vae_attn_conv(key: str, t: torch.Tensor) -> torch.Tensor:
    return t.reshape(*t.shape, 1, 1) if ".mid.attn_1." in key and t.ndim == 2 else t


def _vae_attn_shape(key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape, 1, 1) if ".mid.attn_1." in key and len(shape) == 2 else shape


def _weights(folder: Path, part: str) -> Path:
    for name in WEIGHT_FILES[part]:
        if (folder / part / name).is_file():
            return folder / part / name
    raise DiffusersFolderError(folder, f"no {part} weights (looked for {part}/{WEIGHT_FILES[part][0]} and the "
                                       "fp16/.bin variants)")


def load_diffusers(folder: str | Path, *, device: Any = "cpu", dtype_policy: Any = None,
                   embedding_dirs: list[Path] | None = None) -> Any:
    """The folder's UNet, text encoder and VAE as a ``loading.Checkpoint``."""
    from host.models import loading

    folder = Path(folder)
    unet_path, vae_path, te_path = (_weights(folder, p) for p in ("unet", "vae", "text_encoder"))
    raw = open_state_dict(unet_path)
    unet_sd = Renamed(raw, unet_names(list(raw)))
    family = detect_family(unet_sd, unet_path, prefix="")
    model = loading._build_unet(unet_sd, family, "", unet_path, device, dtype_policy)
    raw_vae = open_state_dict(vae_path)
    vae_sd = Renamed(raw_vae, vae_names(list(raw_vae)), _vae_attn_conv, _vae_attn_shape)
    vae = loading._build_vae(vae_sd, "", vae_path, device, dtype_policy)
    clip = loading._build_clip(open_state_dict(te_path), te_path, device, dtype_policy, embedding_dirs)
    return loading.Checkpoint(model, clip, vae, family, folder)


__all__ = ["DiffusersFolderError", "Renamed", "controlnet_names", "load_diffusers",
           "unet_names", "vae_names"]
