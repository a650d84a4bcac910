"""The math of patch_pack's model_options functions, plain torch: the pack registers these on its clones, and
tests/host/extensions/test_pack_model_patches.py gives the same functions to the host's own sampler to compute
the pixels the pack's clones must give."""

import torch.nn.functional as F


def post_cfg_scale(args):
    return args["denoised"] * 0.5 + 0.25


def rescaled_cfg(args):
    """CFG in noise form, its result rescaled towards the std of the cond prediction (a nonlinear function)."""
    cond, uncond, scale = args["cond"], args["uncond"], args["cond_scale"]
    guided = uncond + (cond - uncond) * scale
    ratio = cond.std(dim=(1, 2, 3), keepdim=True) / guided.std(dim=(1, 2, 3), keepdim=True)
    return 0.6 * guided * ratio + 0.4 * guided


def attn1_value(n, context, value, extra):
    """Self-attention keys from the normed activations as they are, values scaled."""
    return n, context, value * 1.5


def attn2_context(n, context, value, extra):
    """Cross-attention keys from a damped text embedding (the values from the original one)."""
    return n, context * 0.5, value


def attn1_replace(q, k, v, extra):
    """The self-attention itself, computed here per head, its output halved."""
    heads = extra["n_heads"]
    b, n, c = q.shape

    def split(t):
        return t.view(b, t.shape[1], heads, c // heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(b, n, c) * 0.5


def unet_scaled(apply_model, params):
    """Every UNet call's denoised prediction scaled and shifted."""
    out = apply_model(params["input"], params["timestep"], **params["c"])
    return out * 0.5 + 0.4
