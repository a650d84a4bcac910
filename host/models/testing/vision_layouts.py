"""CLIP vision tower layouts for tests, from the published architecture: transformers' CLIPVisionModelWithProjection
names (ComfyUI's clip_vision files) and OpenCLIP's ``visual.*`` names (inside unCLIP checkpoints)."""

from __future__ import annotations

from pathlib import Path

from host.models.testing.layouts import Shapes


def _ln(S: Shapes, p: str, w: int) -> None:
    S |= {p + ".weight": (w,), p + ".bias": (w,)}


def vision_layout(width: int = 1280, layers: int = 32, mlp: int = 5120, patch: int = 14, image_size: int = 224,
                  projection: int = 1024) -> Shapes:
    """ViT-H/14 by default (ComfyUI's clip_vision_h)."""
    v, n = "vision_model.", (image_size // patch) ** 2 + 1
    S: Shapes = {v + "embeddings.class_embedding": (width,),
                 v + "embeddings.patch_embedding.weight": (width, 3, patch, patch),
                 v + "embeddings.position_embedding.weight": (n, width)}
    _ln(S, v + "pre_layrnorm", width)
    for i in range(layers):
        p = f"{v}encoder.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            S |= {f"{p}self_attn.{name}.weight": (width, width), f"{p}self_attn.{name}.bias": (width,)}
        _ln(S, p + "layer_norm1", width)
        _ln(S, p + "layer_norm2", width)
        S |= {p + "mlp.fc1.weight": (mlp, width), p + "mlp.fc1.bias": (mlp,), p + "mlp.fc2.weight": (width, mlp),
              p + "mlp.fc2.bias": (width,)}
    _ln(S, v + "post_layernorm", width)
    S["visual_projection.weight"] = (projection, width)
    return S


def open_clip_visual_layout(width: int = 1280, layers: int = 32, mlp: int = 5120, patch: int = 14,
                            image_size: int = 224, projection: int = 1024) -> Shapes:
    n = (image_size // patch) ** 2 + 1
    S: Shapes = {"conv1.weight": (width, 3, patch, patch), "class_embedding": (width,),
                 "positional_embedding": (n, width), "proj": (width, projection)}
    _ln(S, "ln_pre", width)
    _ln(S, "ln_post", width)
    for i in range(layers):
        p = f"transformer.resblocks.{i}."
        S |= {p + "attn.in_proj_weight": (3 * width, width), p + "attn.in_proj_bias": (3 * width,),
              p + "attn.out_proj.weight": (width, width), p + "attn.out_proj.bias": (width,),
              p + "mlp.c_fc.weight": (mlp, width), p + "mlp.c_fc.bias": (mlp,),
              p + "mlp.c_proj.weight": (width, mlp), p + "mlp.c_proj.bias": (width,)}
        _ln(S, p + "ln_1", width)
        _ln(S, p + "ln_2", width)
    return S


def style_adapter_layout(width: int = 1024, context_dim: int = 768, layers: int = 3, num_token: int = 8) -> Shapes:
    """TencentARC's T2I style adapter (ComfyUI builds it with these defaults)."""
    S: Shapes = {"style_embedding": (1, num_token, width), "proj": (width, context_dim)}
    _ln(S, "ln_pre", width)
    _ln(S, "ln_post", width)
    for i in range(layers):
        p = f"transformer_layes.{i}."
        S |= {p + "attn.in_proj_weight": (3 * width, width), p + "attn.in_proj_bias": (3 * width,),
              p + "attn.out_proj.weight": (width, width), p + "attn.out_proj.bias": (width,),
              p + "mlp.c_fc.weight": (4 * width, width), p + "mlp.c_fc.bias": (4 * width,),
              p + "mlp.c_proj.weight": (width, 4 * width), p + "mlp.c_proj.bias": (width,)}
        _ln(S, p + "ln_1", width)
        _ln(S, p + "ln_2", width)
    return S


def redux_layout(redux_dim: int = 1152, txt_in_features: int = 4096) -> Shapes:
    return {"redux_up.weight": (txt_in_features * 3, redux_dim), "redux_up.bias": (txt_in_features * 3,),
            "redux_down.weight": (txt_in_features, txt_in_features * 3), "redux_down.bias": (txt_in_features,)}



def write_unclip_checkpoint(out: Path, adm: int = 2048, seed: int = 0) -> Path:
    """A small random SD2.1 unCLIP checkpoint: make_checkpoint's small SD2.1 layout, the UNet's ``label_emb``
    for a class embedding of ``adm`` features, and a thin OpenCLIP vision tower under ``embedder.model.visual.``
    projecting to adm/2."""
    import torch
    from safetensors.torch import save_file

    from host.models.testing.make_checkpoint import layout, make_tensor

    S = layout("sd21", "small")
    unet = "model.diffusion_model.label_emb.0."
    S |= {unet + "0.weight": (1280, adm), unet + "0.bias": (1280,), unet + "2.weight": (1280, 1280),
          unet + "2.bias": (1280,)}
    tower = open_clip_visual_layout(width=64, layers=2, mlp=128, patch=8, image_size=32, projection=adm // 2)
    S |= {"embedder.model.visual." + k: v for k, v in tower.items()}
    sd = {}
    for key, shape in S.items():
        t = make_tensor(key, shape, seed)
        sd[key] = t if t.dtype == torch.int64 else t.to(torch.float16)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out))
    return out


__all__ = ["open_clip_visual_layout", "redux_layout", "style_adapter_layout", "vision_layout",
           "write_unclip_checkpoint"]
