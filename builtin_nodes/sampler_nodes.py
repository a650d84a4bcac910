"""KSampler and KSamplerAdvanced from ComfyUI's ``nodes``, over ``host.models.sampling.ksampler_run``.

Progress is reported per step through the running node's progress hook (ComfyUI's ``progress`` message), with
a latent preview per ``--preview-method``; an interrupt is checked every step and ends the prompt
``execution_interrupted``. The combos are ComfyUI's sampler and scheduler names in its order (torch-free:
host/models/sampling/names.py).
"""

from __future__ import annotations

from typing import Any

from builtin_nodes.node_env import manager
from builtin_nodes.previews import previewer

SEED_MAX = 0xFFFFFFFFFFFFFFFF


def _names() -> tuple[list[str], list[str]]:
    from host.models.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

    return list(SAMPLER_NAMES), list(SCHEDULER_NAMES)


def common_ksampler(model: Any, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
                    positive: Any, negative: Any, latent: dict[str, Any], denoise: float = 1.0,
                    disable_noise: bool = False, start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> tuple[dict[str, Any]]:
    """Sample ``latent`` with ``model``; the result is a copy of the LATENT dict with new samples."""
    from host.models.sampling import LatentChannelsMismatch, SamplingInterrupted, ksampler
    from isolate.context import InterruptProcessingException, interrupt_requested, report_progress

    samples = latent["samples"]
    want = getattr(model, "latent_channels", 4)
    if samples.dim() != 4 or samples.shape[1] != want:
        raise LatentChannelsMismatch(
            f"the latent has shape {list(samples.shape)} but this model denoises {want}-channel latents "
            f"[batch, {want}, height/8, width/8]; was it made for another model family?")
    models = manager()
    preview = previewer(models.preview_method, model, models)

    def callback(step: int, total: int, x0: Any) -> None:
        report_progress(step + 1, total, preview=preview(x0) if preview is not None and x0 is not None else None)

    models.use(model)
    try:
        out = ksampler(model, seed=seed, steps=steps, cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
                       positive=positive, negative=negative, latent=latent, denoise=denoise,
                       add_noise=not disable_noise, start_step=start_step, last_step=last_step,
                       force_full_denoise=force_full_denoise, callback=callback, interrupted=interrupt_requested,
                       device=models.device)
    except SamplingInterrupted as exc:
        raise InterruptProcessingException() from exc
    finally:
        models.done(model)
    result = latent.copy()
    result.pop("downscale_ratio_spacial", None)
    result["samples"] = out
    return (result,)


class KSampler:
    DESCRIPTION = "Uses the provided model, positive and negative conditioning to denoise the latent image."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        samplers, schedulers = _names()
        return {"required": {
            "model": ("MODEL", {"tooltip": "The model used for denoising the input latent."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True,
                             "tooltip": "The random seed used for creating the noise."}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 10000,
                              "tooltip": "The number of steps used in the denoising process."}),
            "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01,
                              "tooltip": "The Classifier-Free Guidance scale balances creativity and adherence to "
                                         "the prompt. Higher values result in images more closely matching the "
                                         "prompt however too high values will negatively impact quality."}),
            "sampler_name": (samplers, {"tooltip": "The algorithm used when sampling, this can affect the quality, "
                                                   "speed, and style of the generated output."}),
            "scheduler": (schedulers, {"tooltip": "The scheduler controls how noise is gradually removed to form "
                                                  "the image."}),
            "positive": ("CONDITIONING", {"tooltip": "The conditioning describing the attributes you want to "
                                                     "include in the image."}),
            "negative": ("CONDITIONING", {"tooltip": "The conditioning describing the attributes you want to "
                                                     "exclude from the image."}),
            "latent_image": ("LATENT", {"tooltip": "The latent image to denoise."}),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01,
                                  "tooltip": "The amount of denoising applied, lower values will maintain the "
                                             "structure of the initial image allowing for image to image "
                                             "sampling."}),
        }}

    RETURN_TYPES = ("LATENT",)
    OUTPUT_TOOLTIPS = ("The denoised latent.",)
    FUNCTION = "sample"
    CATEGORY = "sampling"

    def sample(self, model: Any, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
               positive: Any, negative: Any, latent_image: dict[str, Any], denoise: float = 1.0) -> tuple[Any]:
        return common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                               denoise=denoise)


class KSamplerAdvanced:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        samplers, schedulers = _names()
        return {"required": {
            "model": ("MODEL",), "add_noise": (["enable", "disable"],),
            "noise_seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 10000}),
            "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}),
            "sampler_name": (samplers,), "scheduler": (schedulers,),
            "positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "latent_image": ("LATENT",),
            "start_at_step": ("INT", {"default": 0, "min": 0, "max": 10000}),
            "end_at_step": ("INT", {"default": 10000, "min": 0, "max": 10000}),
            "return_with_leftover_noise": (["disable", "enable"],),
        }}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "sampling"

    def sample(self, model: Any, add_noise: str, noise_seed: int, steps: int, cfg: float, sampler_name: str,
               scheduler: str, positive: Any, negative: Any, latent_image: dict[str, Any], start_at_step: int,
               end_at_step: int, return_with_leftover_noise: str, denoise: float = 1.0) -> tuple[Any]:
        return common_ksampler(model, noise_seed, steps, cfg, sampler_name, scheduler, positive, negative,
                               latent_image, denoise=denoise, disable_noise=add_noise == "disable",
                               start_step=start_at_step, last_step=end_at_step,
                               force_full_denoise=return_with_leftover_noise != "enable")


V1_MODULE = "nodes"
V1_CLASSES = {"KSampler": KSampler, "KSamplerAdvanced": KSamplerAdvanced}
V1_DISPLAY_NAMES = {"KSampler": "KSampler", "KSamplerAdvanced": "KSampler (Advanced)"}
