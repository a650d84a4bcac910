"""Write a diffusers model folder (``model_index.json``, ``unet/``, ``vae/``, ``text_encoder/``) from an LDM-layout
checkpoint, for tests: the LDM names mapped to diffusers' UNet2DConditionModel / AutoencoderKL / CLIPTextModel
names (written here from diffusers' module structure, independently of host.models.diffusers_loading)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

_RESNET = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj", "out_layers.0": "norm2",
           "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}
_ATTN = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def _resnet(rest: str) -> str:
    for src, dst in _RESNET.items():
        if rest.startswith(src + "."):
            return dst + rest[len(src):]
    return rest


def unet_key(key: str, n: int) -> str:
    """The diffusers name of LDM UNet key ``key`` (n ResBlocks per level)."""
    simple = {"input_blocks.0.0.": "conv_in.", "out.0.": "conv_norm_out.", "out.2.": "conv_out.",
              "time_embed.0.": "time_embedding.linear_1.", "time_embed.2.": "time_embedding.linear_2.",
              "label_emb.0.0.": "add_embedding.linear_1.", "label_emb.0.2.": "add_embedding.linear_2."}
    for src, dst in simple.items():
        if key.startswith(src):
            return dst + key[len(src):]
    if m := re.match(r"input_blocks\.(\d+)\.(\d)\.(.*)", key):
        k, sub, rest = int(m.group(1)), m.group(2), m.group(3)
        level, j = divmod(k - 1, n + 1)
        if j == n:
            return f"down_blocks.{level}.downsamplers.0.conv.{rest[len('op.'):]}"
        if sub == "0":
            return f"down_blocks.{level}.resnets.{j}.{_resnet(rest)}"
        return f"down_blocks.{level}.attentions.{j}.{rest}"
    if m := re.match(r"middle_block\.(\d)\.(.*)", key):
        sub, rest = int(m.group(1)), m.group(2)
        return "mid_block.attentions.0." + rest if sub == 1 else f"mid_block.resnets.{sub // 2}.{_resnet(rest)}"
    m = re.match(r"output_blocks\.(\d+)\.(\d)\.(.*)", key)
    assert m, key
    level, j = divmod(int(m.group(1)), n + 1)
    sub, rest = m.group(2), m.group(3)
    if sub == "0":
        return f"up_blocks.{level}.resnets.{j}.{_resnet(rest)}"
    if rest.startswith("conv."):
        return f"up_blocks.{level}.upsamplers.0.{rest}"
    return f"up_blocks.{level}.attentions.{j}.{rest}"


def controlnet_key(key: str, n: int) -> str:
    """The diffusers ControlNetModel name of cldm ControlNet key ``key``."""
    if m := re.match(r"input_hint_block\.(\d+)\.(.*)", key):
        i = int(m.group(1))
        name = "conv_in" if i == 0 else "conv_out" if i == 14 else f"blocks.{i // 2 - 1}"
        return f"controlnet_cond_embedding.{name}.{m.group(2)}"
    if m := re.match(r"zero_convs\.(\d+)\.0\.(.*)", key):
        return f"controlnet_down_blocks.{m.group(1)}.{m.group(2)}"
    if key.startswith("middle_block_out.0."):
        return "controlnet_mid_block." + key[len("middle_block_out.0."):]
    return unet_key(key, n)


def vae_key(key: str, levels: int) -> str:
    key = key.replace("norm_out", "conv_norm_out").replace("nin_shortcut", "conv_shortcut")
    key = re.sub(r"^encoder\.down\.(\d+)\.block\.", r"encoder.down_blocks.\1.resnets.", key)
    key = re.sub(r"^encoder\.down\.(\d+)\.downsample\.", r"encoder.down_blocks.\1.downsamplers.0.", key)
    if m := re.match(r"decoder\.up\.(\d+)\.(block|upsample)\.(.*)", key):
        part = "resnets." if m.group(2) == "block" else "upsamplers.0."
        key = f"decoder.up_blocks.{levels - 1 - int(m.group(1))}.{part}{m.group(3)}"
    key = re.sub(r"\.mid\.block_(\d)\.", lambda m: f".mid_block.resnets.{int(m.group(1)) - 1}.", key)
    if m := re.match(r"(encoder|decoder)\.mid\.attn_1\.(\w+)\.(weight|bias)$", key):
        key = f"{m.group(1)}.mid_block.attentions.0.{_ATTN[m.group(2)]}.{m.group(3)}"
    return key


def write_diffusers_folder(checkpoint: Path, out: Path, num_res_blocks: int) -> Path:
    """``out`` as a diffusers folder holding ``checkpoint``'s UNet, VAE and CLIP-L text encoder."""
    from safetensors.torch import load_file, save_file

    sd = load_file(str(checkpoint))
    parts: dict[str, dict[str, torch.Tensor]] = {"unet": {}, "vae": {}, "text_encoder": {}}
    levels = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"first_stage_model\.decoder\.up\.(\d+)\.", k)))
    for key, t in sd.items():
        if key.startswith("model.diffusion_model."):
            parts["unet"][unet_key(key[len("model.diffusion_model."):], num_res_blocks)] = t
        elif key.startswith("first_stage_model."):
            name = vae_key(key[len("first_stage_model."):], levels)
            parts["vae"][name] = t.flatten(1) if ".attentions.0.to_" in name and t.ndim == 4 else t
        elif key.startswith("cond_stage_model.transformer."):
            parts["text_encoder"][key[len("cond_stage_model.transformer."):]] = t
    for part, tensors in parts.items():
        (out / part).mkdir(parents=True, exist_ok=True)
        name = "model.safetensors" if part == "text_encoder" else "diffusion_pytorch_model.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / part / name))
    (out / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return out


__all__ = ["controlnet_key", "unet_key", "vae_key", "write_diffusers_folder"]
