"""Write random-weight checkpoints in the real key layouts (nothing is downloaded).

``python -m host.models.testing.make_checkpoint --family sd15|sd21|sdxl|sdxl_refiner --size full|small --out PATH``

full: the real SD1.5 / SD2.1 shapes (UNet 686 keys, KL VAE 248, CLIP-L 196 + position_ids / OpenCLIP-H); SDXL
base (UNet 1680 keys with label_emb, VAE, CLIP-L under conditioner.embedders.0.transformer, OpenCLIP-bigG under
conditioner.embedders.1.model) and refiner (UNet 1220 keys, VAE, bigG under conditioner.embedders.0.model).
small: what the detectors still accept (UNet model_channels 320, one level, one ResBlock, depth-1 transformers),
with a thin VAE (ch 32, still 8x down) and a 2-layer text encoder of the right width, so end-to-end tests run in
seconds. Small SDXL files keep what the SDXL detectors look at (model_channels 320/384, context 2048/1280, ADM
2816/2560, linear proj_in) and the encoders' real widths (768 + 1280), with one level and two-layer encoders.
SD2.1 full is v-prediction (the norm bias ComfyUI looks at gets std 0.2); ``--prediction eps`` makes an
SD2.0-style file; small SD2.1 files are always eps (their UNet has no output_blocks.11).
Init: >=2-D weights ~ N(0, 1/fan_in), 1-D norm weights ~ 1 + 0.1N, biases ~ 0.02N, token embedding ~ 0.3N,
position embedding ~ 0.1N; each tensor from its own generator seeded by (seed, key), so values don't depend on order.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import replace
from pathlib import Path

import torch

from host.models.testing.layouts import (
    SD15_UNET,
    SD21_UNET,
    SDXL_REFINER_UNET,
    SDXL_UNET,
    Shapes,
    UNetLayout,
    clip_l_layout,
    open_clip_layout,
    unet_layout,
    vae_layout,
)

V_KEY = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"


FAMILIES = ("sd15", "sd21", "sdxl", "sdxl_refiner")


def small_unet(base: UNetLayout) -> UNetLayout:
    """One level, one ResBlock, depth-1 transformers; what the detectors read is kept."""
    return replace(base, channel_mult=(1,), num_res_blocks=1, attn_levels=(0,), depth=1,
                   level_depths=(1,) if base.level_depths else (), middle_depth=1 if base.level_depths else None)


def sdxl_layout(family: str, size: str) -> Shapes:
    full = size == "full"
    base = SDXL_UNET if family == "sdxl" else SDXL_REFINER_UNET
    unet = base if full else small_unet(base)
    vae = vae_layout() if full else vae_layout(ch=32, ch_mult=(1, 1, 1, 1), num_res_blocks=1)
    g = open_clip_layout(1280, 32, 5120, proj=1280) if full else open_clip_layout(1280, 2, 1280, proj=1280)
    S: Shapes = {"model.diffusion_model." + k: v for k, v in unet_layout(unet).items()}
    S |= {"first_stage_model." + k: v for k, v in vae.items()}
    if family == "sdxl_refiner":
        return S | {"conditioner.embedders.0.model." + k: v for k, v in g.items()}
    clip = clip_l_layout() if full else clip_l_layout(layers=2, mlp=768)
    S |= {"conditioner.embedders.0.transformer.text_model." + k: v for k, v in clip.items()}
    return S | {"conditioner.embedders.1.model." + k: v for k, v in g.items()}


def layout(family: str, size: str) -> Shapes:
    """Every key and shape of the checkpoint."""
    if family in ("sdxl", "sdxl_refiner"):
        return sdxl_layout(family, size)
    full = size == "full"
    base = SD15_UNET if family == "sd15" else SD21_UNET
    unet = base if full else small_unet(base)
    vae = vae_layout() if full else vae_layout(ch=32, ch_mult=(1, 1, 1, 1), num_res_blocks=1)
    S: Shapes = {"model.diffusion_model." + k: v for k, v in unet_layout(unet).items()}
    S |= {"first_stage_model." + k: v for k, v in vae.items()}
    if family == "sd15":
        clip = clip_l_layout() if full else clip_l_layout(layers=2, mlp=768)
        S |= {"cond_stage_model.transformer.text_model." + k: v for k, v in clip.items()}
    else:
        clip = open_clip_layout() if full else open_clip_layout(layers=2, mlp=1024)
        S |= {"cond_stage_model.model." + k: v for k, v in clip.items()}
    return S


def make_tensor(key: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    if key.endswith("position_ids"):
        return torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:7], "little")
    g = torch.Generator().manual_seed((seed * 1000003 + h) % 2 ** 63)
    x = torch.randn(shape, generator=g)
    if key.endswith("token_embedding.weight"):
        return x * 0.3
    if key.endswith(("position_embedding.weight", "positional_embedding")):
        return x * 0.1
    if key.endswith("logit_scale"):
        return torch.tensor(4.6052)
    if len(shape) == 1:
        return 1.0 + 0.1 * x if key.endswith(".weight") or key.endswith("_weight") else 0.02 * x
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    return x / fan_in ** 0.5


def make_checkpoint(family: str, size: str, out: Path, seed: int = 0, dtype: torch.dtype = torch.float16,
                    prediction: str | None = None) -> Path:
    from safetensors.torch import save_file

    sd = {}
    for key, shape in layout(family, size).items():
        t = make_tensor(key, shape, seed)
        sd[key] = t if t.dtype == torch.int64 else t.to(dtype)
    v = prediction == "v" or (prediction is None and family == "sd21")
    if family == "sd21" and v and V_KEY in sd:
        sd[V_KEY] = (make_tensor(V_KEY, sd[V_KEY].shape, seed) * 10).to(dtype)  # std ~0.2 > 0.09
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out), metadata={"format": "pt", "generator": "host.models.testing.make_checkpoint",
                                      "family": family, "size": size, "seed": str(seed)})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=list(FAMILIES), default="sd15")
    ap.add_argument("--size", choices=["full", "small"], default="small")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--prediction", choices=["eps", "v"], default=None)
    args = ap.parse_args(argv)
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    path = make_checkpoint(args.family, args.size, args.out, args.seed, dtype, args.prediction)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
