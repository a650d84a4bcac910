"""A pack written the way ComfyUI_essentials' sampling nodes are: ``comfy.samplers.KSampler`` built from pack
code for its ``sigmas`` (the variation noise is scaled by them) and sampled with ``KSampler.sample``,
``comfy.model_management.load_model_gpu`` / ``get_torch_device``, ``model.model.latent_format.scale_factor``;
tokens edited in ComfyUI's dict form before encoding (as its CLIPTextEncodeSDXL+ does); wrappers and callbacks
added to a clone (as KJNodes' patch nodes do)."""

import comfy.model_management
import comfy.patcher_extension
import comfy.sample
import comfy.samplers
import torch
from nodes import MAX_RESOLUTION  # noqa: F401


def _sampling_inputs():
    return {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
            "latent_image": ("LATENT",), "seed": ("INT", {"default": 0, "min": 0, "max": 0xffffffffffffffff}),
            "steps": ("INT", {"default": 2, "min": 1, "max": 10000}),
            "cfg": ("FLOAT", {"default": 7.0, "min": 0.0, "max": 100.0}),
            "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
            "scheduler": (comfy.samplers.KSampler.SCHEDULERS,),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})}


class KSamplerObjectEssStyle:
    """Samples with a ``comfy.samplers.KSampler`` object and the seed's noise: the host KSampler's result."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": _sampling_inputs()}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "execute"
    CATEGORY = "essentials_style"

    def execute(self, model, positive, negative, latent_image, seed, steps, cfg, sampler_name, scheduler, denoise):
        device = comfy.model_management.get_torch_device()
        comfy.model_management.load_model_gpu(model)
        sampler = comfy.samplers.KSampler(model, steps=steps, device=device, sampler=sampler_name,
                                          scheduler=scheduler, denoise=denoise, model_options=model.model_options)
        latent = latent_image["samples"]
        noise = comfy.sample.prepare_noise(latent, seed)
        samples = sampler.sample(noise, positive, negative, cfg=cfg, latent_image=latent, seed=seed)
        return ({**latent_image, "samples": samples},)


class SigmasEssStyle:
    """What a KSampler object computes for its steps and denoise, as ui text."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "steps": ("INT", {"default": 4, "min": 1}),
                             "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                             "scheduler": (comfy.samplers.KSampler.SCHEDULERS,),
                             "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0})}}

    RETURN_TYPES = ()
    FUNCTION = "execute"
    OUTPUT_NODE = True
    CATEGORY = "essentials_style"

    def execute(self, model, steps, sampler_name, scheduler, denoise):
        sampler = comfy.samplers.KSampler(model, steps=steps, device=comfy.model_management.get_torch_device(),
                                          sampler=sampler_name, scheduler=scheduler, denoise=denoise)
        sigmas = sampler.sigmas
        sigma = float(sigmas[0] - sigmas[-1]) / model.model.latent_format.scale_factor
        return {"ui": {"text": [{"sigmas": [round(float(s), 4) for s in sigmas], "scaled_range": round(sigma, 3),
                                 "is_tensor": isinstance(sigmas, torch.Tensor)}]}}


class TokensSwapEssStyle:
    """Tokenizes two prompts, puts the second's CLIP-L tokens into the first's, encodes the result."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP",), "text": ("STRING", {"default": ""}),
                             "text_l": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "execute"
    OUTPUT_NODE = True
    CATEGORY = "essentials_style"

    def execute(self, clip, text, text_l):
        tokens = clip.tokenize(text)
        tokens["l"] = clip.tokenize(text_l)["l"]
        first = tokens["l"][0]
        facts = {"keys": sorted(tokens), "chunk": len(first), "start": int(first[0][0]), "weight": float(first[1][1])}
        return {"ui": {"text": [facts]}, "result": (clip.encode_from_tokens_scheduled(tokens),)}


class WrapperPatchEssStyle:
    """A clone with an outer-sample wrapper and a pre-run callback (recorded; the host samples without them)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "execute"
    OUTPUT_NODE = True
    CATEGORY = "essentials_style"

    def execute(self, model):
        clone = model.clone()
        clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "ess_style",
                                   lambda executor, *args, **kwargs: executor(*args, **kwargs))
        clone.add_callback(comfy.patcher_extension.CallbacksMP.ON_PRE_RUN, lambda patcher: None)
        facts = {"wrappers": len(clone.get_wrappers(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "ess_style")),
                 "callbacks": len(clone.get_callbacks(comfy.patcher_extension.CallbacksMP.ON_PRE_RUN, None)),
                 "original": len(model.wrappers) + len(model.callbacks)}
        return {"ui": {"text": [facts]}, "result": (clone,)}


NODE_CLASS_MAPPINGS = {"KSamplerObjectEssStyle": KSamplerObjectEssStyle, "SigmasEssStyle": SigmasEssStyle,
                       "TokensSwapEssStyle": TokensSwapEssStyle, "WrapperPatchEssStyle": WrapperPatchEssStyle}
