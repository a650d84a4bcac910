"""Which weight of the host's model a LoRA key patches: maps from the key stems LoRA files use to the patcher's
weight names (``diffusion_model.<ldm UNet key>``, ``clip_l.transformer.text_model.<CLIP key>``, also ``clip_h``,
``clip_g``; ``clip_<x>.transformer.text_projection.weight``).

The styles, as ComfyUI accepts them:

* kohya / LyCORIS: ``lora_unet_<name with _ for .>`` over both the LDM names (``lora_unet_input_blocks_1_1_...``,
  SDXL files) and the diffusers names (``lora_unet_down_blocks_0_attentions_0_...``, SD1 files);
  ``lycoris_<diffusers name>`` (SimpleTuner); text encoders ``lora_te_text_model_encoder_layers_<b>_<layer>``
  (CLIP-L or -H; the lone G of the SDXL refiner), ``lora_te1_`` (L) and ``lora_te2_`` (G) for SDXL.
* diffusers / PEFT: ``[unet.]down_blocks.0.attentions.0...attn1.to_q`` (also the old attention-processor form
  ``...attn1.processor.to_q``, ``...processor.to_out``), ``text_encoder[_2].text_model.encoder.layers.<b>...``.
* generic: the weight's own name without ``.weight`` (``diffusion_model.x``, ``text_encoders.clip_l.x``).

The diffusers names of the UNet are derived from the model's own LDM keys (the block layout is read from them),
so the map fits whatever UNet configuration is loaded (SD1.x, SD2.x, SDXL, small test models).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

UNET = "diffusion_model."
CLIP_ENCODERS = ("clip_l", "clip_h", "clip_g")
#: the Linear layers of a CLIP encoder layer LoRAs patch
CLIP_LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
                "mlp.fc2")
#: LDM ResBlock part -> diffusers ResnetBlock2D part
_RESNET_PARTS = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
                 "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}
#: fixed LDM module -> diffusers module
_FIXED = {"input_blocks.0.0": "conv_in", "time_embed.0": "time_embedding.linear_1",
          "time_embed.2": "time_embedding.linear_2", "label_emb.0.0": "add_embedding.linear_1",
          "label_emb.0.2": "add_embedding.linear_2", "out.0": "conv_norm_out", "out.2": "conv_out"}
_LAYER = re.compile(r"^(clip_[lhg])\.transformer\.text_model\.encoder\.layers\.(\d+)\.(.+)\.weight$")


def _blocks(keys: Iterable[str], name: str) -> dict[int, set[str]]:
    """``name``'s block index -> the keys under it (without ``name.<i>.``)."""
    out: dict[int, set[str]] = {}
    for k in keys:
        if k.startswith(name + "."):
            i, rest = k[len(name) + 1:].split(".", 1)
            out.setdefault(int(i), set()).add(rest)
    return out


def _has(rest: set[str], sub: str) -> bool:
    return any(r.startswith(sub + ".") for r in rest)


def _input_modules(keys: set[str]) -> dict[str, str]:
    """LDM module -> diffusers module for the input blocks (a Downsample block closes a level)."""
    out: dict[str, str] = {}
    level, j = 0, 0
    for n, rest in sorted(_blocks(keys, "input_blocks").items()):
        if n == 0:
            continue
        p = f"input_blocks.{n}"
        if _has(rest, "0.op"):
            out[f"{p}.0.op"] = f"down_blocks.{level}.downsamplers.0.conv"
            level, j = level + 1, 0
            continue
        out[f"{p}.0"] = f"down_blocks.{level}.resnets.{j}"
        if _has(rest, "1"):
            out[f"{p}.1"] = f"down_blocks.{level}.attentions.{j}"
        j += 1
    return out


def _output_modules(keys: set[str]) -> dict[str, str]:
    """LDM module -> diffusers module for the output blocks (an Upsample closes a level)."""
    out: dict[str, str] = {}
    level, j = 0, 0
    for n, rest in sorted(_blocks(keys, "output_blocks").items()):
        p = f"output_blocks.{n}"
        out[f"{p}.0"] = f"up_blocks.{level}.resnets.{j}"
        up = next((m for m in (1, 2) if _has(rest, f"{m}.conv")), None)
        if _has(rest, "1") and up != 1:
            out[f"{p}.1"] = f"up_blocks.{level}.attentions.{j}"
        j += 1
        if up is not None:
            out[f"{p}.{up}.conv"] = f"up_blocks.{level}.upsamplers.0.conv"
            level, j = level + 1, 0
    return out


def _middle_modules(keys: set[str]) -> dict[str, str]:
    blocks = _blocks(keys, "middle_block")
    out = {"middle_block.0": "mid_block.resnets.0"}
    if _has(blocks.get(1, set()), "proj_in"):
        out |= {"middle_block.1": "mid_block.attentions.0", "middle_block.2": "mid_block.resnets.1"}
    elif 1 in blocks:
        out["middle_block.1"] = "mid_block.resnets.1"
    return out


def diffusers_unet_names(unet_keys: Iterable[str]) -> dict[str, str]:
    """diffusers ``UNet2DConditionModel`` parameter name -> LDM UNet key, for every key given (LDM names
    without ``diffusion_model.``) that diffusers has."""
    keys = set(unet_keys)
    modules = _FIXED | _input_modules(keys) | _middle_modules(keys) | _output_modules(keys)
    out: dict[str, str] = {}
    for key in keys:
        stem, _, suffix = key.rpartition(".")
        for ldm in _prefixes(stem):
            if ldm in modules:
                rest = stem[len(ldm) + 1:]
                if ".resnets." in modules[ldm]:
                    rest = _RESNET_PARTS.get(rest, rest)
                out[".".join(filter(None, (modules[ldm], rest, suffix)))] = key
                break
    return out


def _prefixes(stem: str) -> list[str]:
    """``a.b.c`` -> [``a.b.c``, ``a.b``, ``a``]: the longest module name first."""
    parts = stem.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def unet_key_map(model_keys: Iterable[str]) -> dict[str, str]:
    """LoRA key stem -> the model weight it patches, for the ``diffusion_model.*`` weights in ``model_keys``."""
    unet = [k[len(UNET):] for k in model_keys if k.startswith(UNET)]
    out: dict[str, str] = {}
    for k in unet:
        if k.endswith(".weight"):
            stem = k[: -len(".weight")]
            out["lora_unet_" + stem.replace(".", "_")] = UNET + k
            out[UNET + stem] = UNET + k
        else:
            out[UNET + k] = UNET + k
    for dname, k in diffusers_unet_names(unet).items():
        if not dname.endswith(".weight"):
            continue
        stem, target = dname[: -len(".weight")], UNET + k
        flat = stem.replace(".", "_")
        out["lora_unet_" + flat] = target
        out["lycoris_" + flat] = target
        processor = stem.replace(".to_", ".processor.to_")
        if processor.endswith(".to_out.0"):
            processor = processor[:-2]
        for p in ("", "unet."):
            out[p + stem] = target
            out[p + processor] = target
    return out


def _clip_layer_names(encoder: str, b: int, layer: str, with_l: bool) -> list[str]:
    kohya = f"text_model_encoder_layers_{b}_{layer.replace('.', '_')}"
    diffusers = f"text_model.encoder.layers.{b}.{layer}"
    if encoder != "clip_g":
        return ["lora_te_" + kohya, "lora_te1_" + kohya, "text_encoder." + diffusers]
    if with_l:  # SDXL base: G is the second encoder
        return ["lora_te2_" + kohya, "text_encoder_2." + diffusers]
    return ["lora_te_" + kohya, "text_encoder." + diffusers, "lora_prior_te_" + kohya]  # the refiner's lone G


def clip_key_map(model_keys: Iterable[str]) -> dict[str, str]:
    """LoRA key stem -> the text-encoder weight it patches (``clip_l.``/``clip_h.``/``clip_g.`` keys)."""
    keys = [k for k in model_keys if k.split(".", 1)[0] in CLIP_ENCODERS]
    with_l = any(k.startswith("clip_l.") for k in keys)
    out: dict[str, str] = {}
    for k in keys:
        if k.endswith(".weight"):
            out["text_encoders." + k[: -len(".weight")]] = k
    for k in sorted(keys, key=lambda k: CLIP_ENCODERS.index(k.split(".", 1)[0]), reverse=True):
        m = _LAYER.match(k)
        if m and m.group(3) in CLIP_LINEARS:
            for name in _clip_layer_names(m.group(1), int(m.group(2)), m.group(3), with_l):
                out[name] = k
    g, l_ = "clip_g.transformer.text_projection.weight", "clip_l.transformer.text_projection.weight"
    if g in keys:
        for name in ("lora_prior_te_text_projection", "text_encoder.text_projection", "lora_te2_text_projection"):
            out[name] = g
    if l_ in keys:
        out["lora_te1_text_projection"] = l_
    return out


#: LoRA-file key prefixes that address a UNet / a text encoder (for telling which part a key was meant for)
UNET_STYLE = ("lora_unet_", "lycoris_", "unet.", UNET, "down_blocks.", "mid_block.", "up_blocks.", "input_blocks.",
              "middle_block.", "output_blocks.", "time_embed", "conv_in", "conv_out")
CLIP_STYLE = ("lora_te", "text_encoder", "lora_prior_te")


def key_part(lora_key: str) -> str | None:
    """``"unet"``, ``"clip"`` or None: which part of a checkpoint a LoRA-file key addresses."""
    if lora_key.startswith(UNET_STYLE):
        return "unet"
    if lora_key.startswith(CLIP_STYLE):
        return "clip"
    return None


__all__ = ["CLIP_LINEARS", "clip_key_map", "diffusers_unet_names", "key_part", "unet_key_map"]
