"""Bench nodes for a MODEL's path through a pack (bench/isolation_sampling.py): ``comfy.sample.sample`` called
from pack code, and a clone with identity attention patches (attn1 and attn2) the host calls back per layer."""

import comfy.sample


class BenchProxySample:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent": ("LATENT",), "steps": ("INT", {"default": 4})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "bench"

    def sample(self, model, positive, negative, latent, steps):
        samples = latent["samples"]
        noise = comfy.sample.prepare_noise(samples, 0)
        out = comfy.sample.sample(model, noise, steps, 7.0, "euler", "normal", positive, negative, samples, seed=0)
        return ({"samples": out},)


class BenchAttnPatch:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "bench"

    def patch(self, model):
        clone = model.clone()
        clone.set_model_attn1_patch(lambda n, context, value, extra: (n, context, value))
        clone.set_model_attn2_patch(lambda n, context, value, extra: (n, context, value))
        return (clone,)


NODE_CLASS_MAPPINGS = {"BenchProxySample": BenchProxySample, "BenchAttnPatch": BenchAttnPatch}
