"""Check host.models against the ComfyUI reference image (../shared/data/comfyui_reference).

``python -m host.models.testing.reference_check CKPT REFERENCE_PNG``: loads the oracle checkpoint (every key must be
consumed), encodes the reference workflow's prompts, runs 4 steps of Euler on the "normal" schedule with cfg 7 and
seed 42 (a minimal inline sampler, MODELS_FACTS §4-§7; the real samplers live in host.models.sampling), decodes
and prints the maximum absolute pixel difference to the reference PNG. Exits 1 above 2/255.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from host.models.loading import load_checkpoint

POSITIVE = "a photograph of an astronaut riding a horse"
NEGATIVE = "blurry, low quality"


def sd_sigmas() -> torch.Tensor:
    betas = torch.linspace(math.sqrt(0.00085), math.sqrt(0.012), 1000, dtype=torch.float64) ** 2
    abar = torch.cumprod(1.0 - betas, dim=0)
    return (((1 - abar) / abar) ** 0.5).float()


def normal_schedule(sigmas: torch.Tensor, steps: int) -> torch.Tensor:
    log = sigmas.log()
    out = []
    for t in torch.linspace(999, 0, steps):
        lo, hi, w = int(t.floor()), int(t.ceil()), float(t - t.floor())
        out.append(((1 - w) * log[lo] + w * log[hi]).exp())
    return torch.cat([torch.stack(out), torch.zeros(1)])


def generate(ckpt_path: Path, seed: int = 42, steps: int = 4, cfg: float = 7.0, size: int = 128) -> np.ndarray:
    ck = load_checkpoint(ckpt_path)
    if ck.unused_keys:
        raise SystemExit(f"unused checkpoint keys: {ck.unused_keys[:10]}")
    pos, _ = ck.clip.encode_text(POSITIVE)
    neg, _ = ck.clip.encode_text(NEGATIVE)
    table = sd_sigmas()
    sigmas = normal_schedule(table, steps)
    torch.manual_seed(seed)
    x = torch.randn(1, 4, size // 8, size // 8) * float(torch.sqrt(1 + sigmas[0] ** 2))
    ctx = torch.cat([neg, pos])
    with torch.no_grad():
        for i in range(steps):
            s = sigmas[i]
            t = (table.log() - s.log()).abs().argmin().float().expand(2)
            xin = torch.cat([x, x]) / torch.sqrt(s ** 2 + 1)
            eps = ck.model.unet(xin, t, context=ctx).float()
            d_u, d_c = (torch.cat([x, x]) - eps * s).chunk(2)
            den = d_u + (d_c - d_u) * cfg
            x = x + (x - den) / s * (sigmas[i + 1] - s)
    image = ck.vae.decode(x / ck.model.latent_scale)
    return np.clip(255.0 * image[0].numpy(), 0, 255).astype(np.uint8)


def main() -> None:
    from PIL import Image

    ours = generate(Path(sys.argv[1]))
    ref = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
    diff = np.abs(ours.astype(int) - ref.astype(int))
    print(json.dumps({"max_abs_diff": int(diff.max()), "mean_abs_diff": float(diff.mean()),
                      "ours_mean": float(ours.mean()), "ref_mean": float(ref.mean())}))
    sys.exit(0 if diff.max() <= 2 else 1)


if __name__ == "__main__":
    main()
