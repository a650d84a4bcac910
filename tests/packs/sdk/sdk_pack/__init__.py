"""A pack written the way model-using ComfyUI packs are written (issue 19): module-level imports of ComfyUI's
names, core nodes called from pack code, ``comfy.sample.sample`` with a MODEL, a SaveImage subclass,
``KSampler.SAMPLERS`` read in INPUT_TYPES, and an import-time monkeypatch of the executor (which cannot reach
the host: accepted with a warning)."""

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import execution
import folder_paths  # noqa: F401
import latent_preview
import nodes
from comfy.latent_formats import SD15
from comfy.ldm.modules.attention import optimized_attention  # noqa: F401  (an internal nodehost lacks)
from comfy.model_patcher import ModelPatcher
from comfy_extras.nodes_custom_sampler import (
    BasicScheduler,
    CFGGuider,
    Noise_EmptyNoise,
    Noise_RandomNoise,
    SamplerCustomAdvanced,
)
from comfy_extras.nodes_model_advanced import ModelSamplingDiscrete  # noqa: F401
from nodes import MAX_RESOLUTION, SaveImage

_original_get_output_data = execution.get_output_data
execution.get_output_data = lambda *args, **kwargs: _original_get_output_data(*args, **kwargs)


class SDKTextToImage:
    """Encode, sample and decode from pack code: the core nodes and the sampler run on the host."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": ("MODEL",), "clip": ("CLIP",), "vae": ("VAE",),
            "text": ("STRING", {"default": "a photo"}), "negative": ("STRING", {"default": ""}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 2**63}),
            "steps": ("INT", {"default": 2, "min": 1}), "cfg": ("FLOAT", {"default": 7.0}),
            "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
            "scheduler": (comfy.samplers.KSampler.SCHEDULERS,),
            "width": ("INT", {"default": 64, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
            "height": ("INT", {"default": 64, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
        }}

    RETURN_TYPES = ("IMAGE", "LATENT")
    FUNCTION = "run"
    CATEGORY = "sdk"

    def run(self, model, clip, vae, text, negative, seed, steps, cfg, sampler_name, scheduler, width, height):
        (positive,) = nodes.CLIPTextEncode().encode(clip, text)
        (negative_cond,) = nodes.CLIPTextEncode().encode(clip, negative)
        (latent,) = nodes.EmptyLatentImage().generate(width, height, 1)
        latent_image = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
        noise = comfy.sample.prepare_noise(latent_image, seed)
        callback = latent_preview.prepare_callback(model, steps)
        samples = comfy.sample.sample(model, noise, steps, cfg, sampler_name, scheduler, positive, negative_cond,
                                      latent_image, denoise=1.0, callback=callback, seed=seed)
        out = {"samples": samples}
        (image,) = nodes.VAEDecode().decode(vae, out)
        return (image, out)


class SDKCommonKSampler:
    """``nodes.common_ksampler`` from pack code (ComfyUI_essentials and others do this)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent": ("LATENT",), "seed": ("INT", {"default": 0}),
                             "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                             "scheduler": (comfy.samplers.KSampler.SCHEDULERS,)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "sdk"

    def sample(self, model, positive, negative, latent, seed, sampler_name, scheduler):
        return nodes.common_ksampler(model, seed, 2, 7.0, sampler_name, scheduler, positive, negative, latent)


class SDKModelFacts:
    """What a pack reads from a MODEL without sampling: the proxy answers from the host's description."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL", "STRING")
    FUNCTION = "facts"
    CATEGORY = "sdk"
    OUTPUT_NODE = True

    def facts(self, model):
        clone = model.clone()
        clone.set_model_attn1_patch(lambda q, k, v, extra_options: (q, k, v))
        sampling = model.get_model_object("model_sampling")
        sigmas = comfy.samplers.calculate_sigmas(sampling, "karras", 3)
        facts = {
            "is_model_patcher": isinstance(model, ModelPatcher),
            "latent_scale": model.model.latent_format.scale_factor,
            "sd15_scale": SD15().scale_factor,
            "model_type": model.model.model_type.name,
            "sigma_max": round(float(sampling.sigma_max), 4),
            "karras_steps": len(sigmas),
            "clone_has_patch": "attn1_patch" in clone.model_options["transformer_options"].get("patches", {}),
            "original_untouched": "patches" not in model.model_options["transformer_options"],
            "device_type": comfy.model_management.get_torch_device().type,
            "standin": repr(ModelSamplingDiscrete) if "stand-in" in repr(ModelSamplingDiscrete) else "host",
        }
        return {"ui": {"facts": [facts]}, "result": (model, str(sorted(facts)))}


class SDKCustomAdvanced:
    """Sampling as ComfyUI_essentials' sampler nodes do it: a Noise_RandomNoise the pack builds, the custom-sampling
    core nodes called by their v1 method names, SamplerCustomAdvanced given the pack's noise object."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "latent": ("LATENT",), "seed": ("INT", {"default": 0}),
                             "sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                             "scheduler": (comfy.samplers.KSampler.SCHEDULERS,)}}

    RETURN_TYPES = ("LATENT", "STRING")
    FUNCTION = "sample"
    CATEGORY = "sdk"
    OUTPUT_NODE = True

    def sample(self, model, positive, negative, latent, seed, sampler_name, scheduler):
        noise = Noise_RandomNoise(seed)
        empty = Noise_EmptyNoise()
        made = noise.generate_noise(latent)
        facts = {"seed": noise.seed, "empty_seed": empty.seed,
                 "same_as_prepare_noise": bool((made == comfy.sample.prepare_noise(latent["samples"], seed)).all()),
                 "empty_is_zero": bool((empty.generate_noise(latent) == 0).all()), "shape": list(made.shape)}
        guider = CFGGuider().get_guider(model, positive, negative, 7.0)[0]
        sigmas = BasicScheduler().get_sigmas(model, scheduler, 2, 1.0)[0]
        sampler = comfy.samplers.sampler_object(sampler_name)
        out = SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, latent)[0]
        again = SamplerCustomAdvanced().sample(noise, guider, sampler, sigmas, latent)[0]  # the same object twice
        facts["twice_equal"] = bool((out["samples"] == again["samples"]).all())
        try:  # a sampler with options the host's KSamplerSelect cannot take: said, never dropped
            SamplerCustomAdvanced().sample(noise, guider, comfy.samplers.ksampler("euler", {"s_noise": 0.5}), sigmas,
                                           latent)
        except Exception as exc:
            facts["options_error"] = f"{type(exc).__name__}: {exc}"
        return {"ui": {"facts": [facts]}, "result": (out, str(sorted(facts)))}


class SDKSaveImage(SaveImage):
    """A SaveImage subclass (as packs write them): it runs in the pack, writing where the host's would."""

    def __init__(self):
        super().__init__()
        self.prefix_append = "_sdk"

    CATEGORY = "sdk"


class SDKPreviewFromCore(nodes.PreviewImage):
    CATEGORY = "sdk"


NODE_CLASS_MAPPINGS = {"SDKTextToImage": SDKTextToImage, "SDKCommonKSampler": SDKCommonKSampler,
                       "SDKModelFacts": SDKModelFacts, "SDKSaveImage": SDKSaveImage,
                       "SDKPreviewFromCore": SDKPreviewFromCore, "SDKCustomAdvanced": SDKCustomAdvanced}
NODE_DISPLAY_NAME_MAPPINGS = {"SDKSaveImage": "SDK Save Image"}
