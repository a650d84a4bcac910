"""Write random LoRA files in the real layouts for an SD1.x UNet/CLIP-L (nothing is downloaded).

``python -m host.models.testing.make_lora --size small|full --out PATH [--rank 32] [--style kohya]``

The module list is enumerated from the diffusers architecture (not from host.models.lora_keys, so the key-map
tests compare two independent accounts), in kohya sd-scripts' naming: ``lora_unet_<diffusers module, _ for .>``
for every Linear/1x1 Conv of each Transformer2DModel (proj_in/out, attn1/attn2 to_q/k/v/out.0, ff.net.0.proj,
ff.net.2), plus the ResnetBlock2D convs and time_emb_proj with ``conv=True`` (LoCon), and
``lora_te_text_model_encoder_layers_<b>_<self_attn_q_proj|...|mlp_fc2>`` for the text encoder. Tensors per
module: ``lora_down.weight`` [r, in(, kh, kw)], ``lora_up.weight`` [out, r(, 1, 1)] and a scalar ``alpha``.

Other styles of the same modules: ``loha`` (LyCORIS ``hada_w1_a/_b``, ``hada_w2_a/_b``), ``lokr`` (``lokr_w1``,
``lokr_w2_a/_b``), ``peft`` (diffusers/PEFT ``unet.<name>.lora_A.weight``/``lora_B.weight``,
``text_encoder.<name>...``) and ``diffusers`` (the attention-processor form ``unet.<...>.processor.to_q_lora.down
.weight``; its text encoder in PEFT names). ``small`` matches make_checkpoint's small SD1.5 (one level, one
ResBlock, a 2-layer text encoder of width 768, MLP 768); ``full`` matches SD1.5.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from host.models.testing.layouts import SD15_UNET, UNetLayout

#: module name -> (out, in, kernel)
Modules = dict[str, tuple[int, int, int]]


@dataclass(frozen=True)
class ClipLayout:
    width: int = 768
    layers: int = 12
    mlp: int = 3072


SMALL_UNET = UNetLayout(**{**SD15_UNET.__dict__, "channel_mult": (1,), "num_res_blocks": 1, "attn_levels": (0,)})
SMALL_CLIP = ClipLayout(layers=2, mlp=768)


def _transformer(out: Modules, p: str, c: int, lay: UNetLayout) -> None:
    k = 1 if not lay.linear_proj else 0
    out[p + ".proj_in"] = (c, c, k)
    out[p + ".proj_out"] = (c, c, k)
    for d in range(lay.depth):
        b = f"{p}.transformer_blocks.{d}"
        for attn, kv in (("attn1", c), ("attn2", lay.context_dim)):
            out |= {f"{b}.{attn}.to_q": (c, c, 0), f"{b}.{attn}.to_k": (c, kv, 0), f"{b}.{attn}.to_v": (c, kv, 0),
                    f"{b}.{attn}.to_out.0": (c, c, 0)}
        out |= {f"{b}.ff.net.0.proj": (c * 8, c, 0), f"{b}.ff.net.2": (c, c * 4, 0)}


def _resnet(out: Modules, p: str, cin: int, cout: int, ted: int) -> None:
    out |= {p + ".conv1": (cout, cin, 3), p + ".conv2": (cout, cout, 3), p + ".time_emb_proj": (cout, ted, 0)}


def unet_modules(lay: UNetLayout = SD15_UNET, conv: bool = False) -> Modules:
    """diffusers UNet2DConditionModel module -> (out, in, kernel; 0 = Linear) of what kohya's LoRA targets."""
    mc, ted, out = lay.model_channels, lay.model_channels * 4, {}
    levels = len(lay.channel_mult)
    chans, ch = [mc], mc
    for i, mult in enumerate(lay.channel_mult):
        for j in range(lay.num_res_blocks):
            if conv:
                _resnet(out, f"down_blocks.{i}.resnets.{j}", ch, mc * mult, ted)
            ch = mc * mult
            chans.append(ch)
            if i in lay.attn_levels:
                _transformer(out, f"down_blocks.{i}.attentions.{j}", ch, lay)
        if i != levels - 1:
            chans.append(ch)
    _transformer(out, "mid_block.attentions.0", ch, lay)
    if conv:
        _resnet(out, "mid_block.resnets.0", ch, ch, ted)
        _resnet(out, "mid_block.resnets.1", ch, ch, ted)
    for u, (level, mult) in enumerate(reversed(list(enumerate(lay.channel_mult)))):
        for j in range(lay.num_res_blocks + 1):
            skip = chans.pop()
            if conv:
                _resnet(out, f"up_blocks.{u}.resnets.{j}", ch + skip, mc * mult, ted)
            ch = mc * mult
            if level in lay.attn_levels:
                _transformer(out, f"up_blocks.{u}.attentions.{j}", ch, lay)
    return out


def clip_modules(lay: ClipLayout = ClipLayout()) -> Modules:
    """transformers CLIPTextModel module (under text_model.) -> (out, in, 0)."""
    w, out = lay.width, {}
    for b in range(lay.layers):
        p = f"text_model.encoder.layers.{b}"
        out |= {f"{p}.self_attn.{n}": (w, w, 0) for n in ("q_proj", "k_proj", "v_proj", "out_proj")}
        out |= {f"{p}.mlp.fc1": (lay.mlp, w, 0), f"{p}.mlp.fc2": (w, lay.mlp, 0)}
    return out


def _randn(name: str, shape: tuple[int, ...], seed: int, std: float) -> torch.Tensor:
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "little")
    g = torch.Generator().manual_seed((seed * 1000003 + h) % 2 ** 63)
    return torch.randn(shape, generator=g) * std


def _lora(name: str, out: int, cin: int, k: int, rank: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down): ΔW = up·down has entries of about the scale of a weight (N(0, 1/fan_in))."""
    fan = cin * max(k, 1) ** 2
    down = _randn(name + ".down", (rank, cin, k, k) if k else (rank, cin), seed, 1 / math.sqrt(fan))
    up = _randn(name + ".up", (out, rank, 1, 1) if k else (out, rank), seed, 1 / math.sqrt(rank))
    return up, down


def _factor(n: int) -> tuple[int, int]:
    """n = a·b with a <= b and a as close to √n as divides (LyCORIS' factorization)."""
    a = max(d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0)
    return a, n // a


def _module_tensors(style: str, name: str, shape: tuple[int, int, int], rank: int, alpha: float,
                    seed: int) -> dict[str, torch.Tensor]:
    out, cin, k = shape
    if style in ("kohya", "peft", "diffusers") or k:
        up, down = _lora(name, out, cin, k, rank, seed)
        return {"up": up, "down": down}
    if style == "loha":
        s = 1 / math.sqrt(math.sqrt(cin))
        return {"hada_w1_a": _randn(name + ".w1a", (out, rank), seed, s / math.sqrt(rank)),
                "hada_w1_b": _randn(name + ".w1b", (rank, cin), seed, s),
                "hada_w2_a": _randn(name + ".w2a", (out, rank), seed, 1 / math.sqrt(rank)),
                "hada_w2_b": _randn(name + ".w2b", (rank, cin), seed, 1.0)}
    (oa, ob), (ia, ib) = _factor(out), _factor(cin)
    return {"lokr_w1": _randn(name + ".w1", (oa, ia), seed, 1.0),
            "lokr_w2_a": _randn(name + ".w2a", (ob, rank), seed, 1 / math.sqrt(rank)),
            "lokr_w2_b": _randn(name + ".w2b", (rank, ib), seed, 1 / math.sqrt(cin))}


def _names(style: str, part: str, module: str) -> tuple[str, dict[str, str]]:
    """(stem, tensor role -> key suffix) for a module in a style."""
    if style in ("kohya", "loha", "lokr"):
        prefix = "lora_unet_" if part == "unet" else "lora_te_"
        stem = prefix + module.replace(".", "_")
        return stem, {"up": ".lora_up.weight", "down": ".lora_down.weight"}
    if style == "diffusers" and part == "unet" and ".to_" in module:
        stem = "unet." + module.replace(".to_", ".processor.to_").removesuffix(".0")
        return stem, {"up": "_lora.up.weight", "down": "_lora.down.weight"}
    stem = ("unet." if part == "unet" else "text_encoder.") + module
    return stem, {"up": ".lora_B.weight", "down": ".lora_A.weight"}


def lora_state_dict(unet: UNetLayout | None = SMALL_UNET, clip: ClipLayout | None = SMALL_CLIP, rank: int = 4,
                    alpha: float | None = 2.0, style: str = "kohya", conv: bool = False, seed: int = 0,
                    dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """A LoRA's tensors: modules of ``unet`` and ``clip`` (either may be None) in ``style``."""
    parts = [("unet", unet_modules(unet, conv)) if unet is not None else ("unet", {}),
             ("clip", clip_modules(clip)) if clip is not None else ("clip", {})]
    sd: dict[str, torch.Tensor] = {}
    for part, modules in parts:
        for module, shape in modules.items():
            stem, suffixes = _names(style, part, module)
            for role, t in _module_tensors(style, stem, shape, rank, alpha or rank, seed).items():
                sd[stem + suffixes.get(role, "." + role)] = t.to(dtype).contiguous()
            if alpha is not None and style != "peft":
                sd[stem + ".alpha"] = torch.tensor(float(alpha), dtype=dtype)
    return sd


def make_lora(out: Path, size: str = "small", rank: int = 4, alpha: float | None = None, style: str = "kohya",
              conv: bool = False, seed: int = 0, te: bool = True) -> Path:
    """Write a LoRA for make_checkpoint's SD1.5 (``size`` small or full); alpha defaults to rank/2."""
    from safetensors.torch import save_file

    unet, clip = (SMALL_UNET, SMALL_CLIP) if size == "small" else (SD15_UNET, ClipLayout())
    alpha = rank / 2 if alpha is None else alpha
    sd = lora_state_dict(unet, clip if te else None, rank, alpha, style, conv, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out), metadata={"ss_network_module": "networks.lora", "ss_network_dim": str(rank),
                                      "ss_network_alpha": str(alpha), "ss_base_model_version": "sd_v1",
                                      "generator": "host.models.testing.make_lora", "style": style})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--style", choices=["kohya", "loha", "lokr", "peft", "diffusers"], default="kohya")
    ap.add_argument("--conv", action="store_true", help="LoCon: the ResBlock convs too")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = make_lora(args.out, args.size, args.rank, args.alpha, args.style, args.conv, args.seed)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
