"""Random-weight files in the real key layouts of ControlNets (lllyasviel's cldm layout) and T2I-Adapters
(TencentARC's), enumerated from the published architectures, for tests (nothing is downloaded).

``python -m host.models.testing.control_layouts --kind controlnet|t2i --size full|small --out PATH``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from host.models.testing.layouts import SD15_UNET, Shapes, UNetLayout, unet_layout
from host.models.testing.make_checkpoint import make_tensor

#: the small UNet of make_checkpoint's "small" files (one level, one ResBlock)
SMALL_UNET = UNetLayout(**{**SD15_UNET.__dict__, "channel_mult": (1,), "num_res_blocks": 1, "attn_levels": (0,)})
_HINT = ((16, 1), (16, 1), (32, 2), (32, 1), (96, 2), (96, 1), (256, 2))


def controlnet_layout(lay: UNetLayout = SD15_UNET, hint_channels: int = 3) -> Shapes:
    """The keys of a ControlNet for a UNet of layout ``lay`` (no prefix)."""
    unet = unet_layout(lay)
    S: Shapes = {k: v for k, v in unet.items()
                 if k.startswith(("time_embed.", "label_emb.", "input_blocks.", "middle_block."))}
    cin = hint_channels
    for i, (cout, _) in enumerate(_HINT):
        S |= {f"input_hint_block.{2 * i}.weight": (cout, cin, 3, 3), f"input_hint_block.{2 * i}.bias": (cout,)}
        cin = cout
    mc = lay.model_channels
    S |= {"input_hint_block.14.weight": (mc, cin, 3, 3), "input_hint_block.14.bias": (mc,)}
    blocks = sorted({int(k.split(".")[1]) for k in S if k.startswith("input_blocks.")})
    for i in blocks:
        ch = next(unet[k][0] for k in (f"input_blocks.{i}.0.out_layers.3.weight", f"input_blocks.{i}.0.op.weight",
                                        f"input_blocks.{i}.0.weight") if k in unet)
        S |= {f"zero_convs.{i}.0.weight": (ch, ch, 1, 1), f"zero_convs.{i}.0.bias": (ch,)}
    ch = unet["middle_block.2.out_layers.3.weight"][0]
    S |= {"middle_block_out.0.weight": (ch, ch, 1, 1), "middle_block_out.0.bias": (ch,)}
    return S


def t2i_layout(cin: int = 192, channels: int = 320, ksize: int = 1, use_conv: bool = False) -> Shapes:
    """The keys of an SD1.x T2I-Adapter (``conv_in``, ``body.0..7``)."""
    widths = (channels, channels * 2, channels * 4, channels * 4)
    S: Shapes = {"conv_in.weight": (channels, cin, 3, 3), "conv_in.bias": (channels,)}
    for stage, width in enumerate(widths):
        for j in range(2):
            p = f"body.{stage * 2 + j}."
            first = j == 0 and stage > 0
            prev = widths[stage - 1] if first else width
            if first and use_conv:
                S |= {p + "down_opt.op.weight": (prev, prev, 3, 3), p + "down_opt.op.bias": (prev,)}
            if prev != width:
                S |= {p + "in_conv.weight": (width, prev, ksize, ksize), p + "in_conv.bias": (width,)}
            S |= {p + "block1.weight": (width, width, 3, 3), p + "block1.bias": (width,),
                  p + "block2.weight": (width, width, ksize, ksize), p + "block2.bias": (width,)}
    return S


def gligen_layout(lay: UNetLayout = SD15_UNET, key_dim: int = 768) -> Shapes:
    """A GLIGEN text-box model for a UNet of layout ``lay``: one fuser per transformer block, the position net."""
    S: Shapes = {"position_net.null_positive_feature": (key_dim,), "position_net.null_position_feature": (64,),
                 "position_net.linears.0.weight": (512, key_dim + 64), "position_net.linears.0.bias": (512,),
                 "position_net.linears.2.weight": (512, 512), "position_net.linears.2.bias": (512,),
                 "position_net.linears.4.weight": (key_dim, 512), "position_net.linears.4.bias": (key_dim,)}
    for key, shape in unet_layout(lay).items():
        if not key.endswith(".norm1.weight") or ".transformer_blocks." not in key:
            continue
        p, c = key[: -len("norm1.weight")] + "fuser.", shape[0]
        S |= {p + "linear.weight": (c, key_dim), p + "linear.bias": (c,), p + "alpha_attn": (), p + "alpha_dense": ()}
        S |= {f"{p}attn.{n}.weight": (c, c) for n in ("to_q", "to_k", "to_v")}
        S |= {p + "attn.to_out.0.weight": (c, c), p + "attn.to_out.0.bias": (c,),
              p + "ff.net.0.proj.weight": (8 * c, c), p + "ff.net.0.proj.bias": (8 * c,),
              p + "ff.net.2.weight": (c, 4 * c), p + "ff.net.2.bias": (c,)}
        for n in ("norm1", "norm2"):
            S |= {f"{p}{n}.weight": (c,), f"{p}{n}.bias": (c,)}
    return S


def write_random(shapes: Shapes, out: Path, seed: int = 0, prefix: str = "", dtype: torch.dtype = torch.float16,
                 extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Random tensors (make_checkpoint's init) for ``shapes`` under ``prefix``, saved as safetensors (as a
weights-only pickle when ``out`` ends in .pth/.pt/.ckpt/.bin)."""
    from safetensors.torch import save_file

    sd = {prefix + k: make_tensor(prefix + k, v, seed).to(dtype) for k, v in shapes.items()}
    sd |= extra or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix in (".pth", ".pt", ".ckpt", ".bin"):
        torch.save(sd, out)
    else:
        save_file(sd, str(out))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=["controlnet", "t2i"], default="controlnet")
    ap.add_argument("--size", choices=["full", "small"], default="small")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.kind == "controlnet":
        shapes = controlnet_layout(SD15_UNET if args.size == "full" else SMALL_UNET)
        path = write_random(shapes, args.out, args.seed, prefix="control_model.")
    else:
        path = write_random(t2i_layout(), args.out, args.seed)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
