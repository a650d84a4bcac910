"""A pack that patches MODELs the way ComfyUI packs do (issue 19): a clone with a weight difference, sampler
CFG and post-CFG functions, attention patches (attn1 / attn2 patches, an attn1 replace), a UNet function
wrapper; one node samples its patched clone itself through ``comfy.sample.sample``; one registers a CFG
function that kills its own process (the host must survive it). The math of the functions that change the
image is in patch_math.py (the test gives the same functions to the host's own sampler)."""

import os
import signal
import sys
import time

import comfy.sample
import torch

from . import patch_math

#: the weight the diff patch changes (the UNet's last convolution)
PATCHED_KEY = "diffusion_model.out.2.weight"


def _clone_node(patch):
    """A node class: MODEL in, ``patch(clone)`` applied to a clone, the clone out."""

    class Node:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"model": ("MODEL",)}}

        RETURN_TYPES = ("MODEL",)
        FUNCTION = "patch"
        CATEGORY = "patch_pack"

        def patch(self, model):
            clone = model.clone()
            patch(clone)
            return (clone,)

    return Node


def weight_diff(clone):
    [weight] = clone.model_state_dict(PATCHED_KEY).values()
    diff = torch.full_like(weight, 0.02)
    taken = clone.add_patches({PATCHED_KEY: (diff,)}, 1.0)
    assert taken == [PATCHED_KEY], taken


def plain_cfg(clone):
    clone.set_model_sampler_cfg_function(
        lambda args: args["uncond"] + (args["cond"] - args["uncond"]) * args["cond_scale"])


def cond_only(clone):
    clone.set_model_sampler_cfg_function(lambda args: args["cond"])


def post_cfg_scale(clone):
    def scale(args):
        assert set(args) >= {"denoised", "cond", "uncond", "model", "uncond_denoised", "cond_denoised", "sigma",
                             "model_options", "input"}, sorted(args)
        return patch_math.post_cfg_scale(args)

    clone.set_model_sampler_post_cfg_function(scale)


def _checked(extra):
    assert extra["block"][0] in ("input", "middle", "output") and extra["n_heads"] > 0, extra
    assert len(extra["original_shape"]) == 4 and isinstance(extra["cond_or_uncond"], list), extra
    assert extra["pack_value"] == 7, extra  # the pack's own transformer_options entry


def attn_identity(clone):
    clone.model_options["transformer_options"]["pack_value"] = 7

    def attn2(n, context, value, extra):
        _checked(extra)
        return n, context, value

    def attn1_out(n, extra):
        _checked(extra)
        return n

    clone.set_model_attn2_patch(attn2)
    clone.set_model_attn1_output_patch(attn1_out)


def unet_wrapper_identity(clone):
    clone.set_model_unet_function_wrapper(
        lambda apply_model, params: apply_model(params["input"], params["timestep"], **params["c"]))


def rescaled_cfg(clone):
    clone.set_model_sampler_cfg_function(patch_math.rescaled_cfg)


def attn1_value(clone):
    clone.set_model_attn1_patch(patch_math.attn1_value)


def attn2_context(clone):
    clone.set_model_attn2_patch(patch_math.attn2_context)


def attn1_replace(clone):
    """The self-attention of the first transformer of input block 1 (SD1.5's first one) replaced."""
    clone.set_model_attn1_replace(patch_math.attn1_replace, "input", 1)


def unet_scaled(clone):
    clone.set_model_unet_function_wrapper(patch_math.unet_scaled)


def die_in_cfg(clone):
    def die(args):
        os.kill(os.getpid(), signal.SIGKILL)

    clone.set_model_sampler_cfg_function(die)


def die_in_attn(clone):
    """A self-attention patch that kills this process in the middle of the host's UNet call."""
    def die(n, context, value, extra):
        os.kill(os.getpid(), signal.SIGKILL)

    clone.set_model_attn1_patch(die)


def sleep_in_cfg(clone):
    """A CFG function that ignores an interrupt (the host kills this process after its grace time)."""
    def sleep(args):
        print("patch_pack: sleeping in the cfg function", file=sys.stderr, flush=True)
        time.sleep(60)
        return args["cond"]

    clone.set_model_sampler_cfg_function(sleep)


class PatchSampleCondOnly:
    """A clone with a cond-only CFG function, sampled from pack code through ``comfy.sample.sample``."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent": ("LATENT",), "seed": ("INT", {"default": 0})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "patch_pack"

    def sample(self, model, positive, negative, latent, seed):
        clone = model.clone()
        cond_only(clone)
        samples = latent["samples"]
        noise = comfy.sample.prepare_noise(samples, seed)
        out = comfy.sample.sample(clone, noise, 2, 7.0, "euler", "normal", positive, negative, samples, seed=seed)
        return ({"samples": out},)


NODE_CLASS_MAPPINGS = {
    "PatchWeightDiff": _clone_node(weight_diff),
    "PatchPlainCfg": _clone_node(plain_cfg),
    "PatchCondOnly": _clone_node(cond_only),
    "PatchPostCfgScale": _clone_node(post_cfg_scale),
    "PatchAttnIdentity": _clone_node(attn_identity),
    "PatchUnetWrapper": _clone_node(unet_wrapper_identity),
    "PatchRescaledCfg": _clone_node(rescaled_cfg),
    "PatchAttn1Value": _clone_node(attn1_value),
    "PatchAttn2Context": _clone_node(attn2_context),
    "PatchAttn1Replace": _clone_node(attn1_replace),
    "PatchUnetScaled": _clone_node(unet_scaled),
    "PatchDieInCfg": _clone_node(die_in_cfg),
    "PatchDieInAttn": _clone_node(die_in_attn),
    "PatchSleepInCfg": _clone_node(sleep_in_cfg),
    "PatchSampleCondOnly": PatchSampleCondOnly,
}
