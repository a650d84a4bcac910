"""The methods of host models a pack's proxy may call, under ComfyUI's names, and ``comfy.sample.sample``.

Each entry adapts ComfyUI's method (``CLIP.encode_from_tokens``, ``VAE.decode``, ``ModelPatcher.model_info``)
onto the host's model value, inside the model manager's ``use``/``done`` as the core nodes do. Anything not
listed cannot be called from a pack (``bridge.HostCallError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ComfyUI's function names of the core nodes the host writes on the v3 API
#: (what pack code calls: ``LatentBatch().batch(a, b)``, ``BasicScheduler().get_sigmas(...)``)
V3_FUNCTIONS = {"EmptyImage": "generate", "ImageInvert": "invert", "SaveImage": "save_images",
                "PreviewImage": "save_images", "ImageBatch": "batch", "RebatchImages": "rebatch",
                "RebatchLatents": "rebatch", "LatentBatch": "batch", "CLIPTextEncodeSDXL": "encode",
                "CLIPTextEncodeSDXLRefiner": "encode", "LatentAdd": "op", "LatentSubtract": "op",
                "LatentMultiply": "op", "LatentInterpolate": "op",
                **dict.fromkeys(("BasicScheduler", "KarrasScheduler", "ExponentialScheduler", "SDTurboScheduler",
                                 "PolyexponentialScheduler", "BetaSamplingScheduler", "SplitSigmas"), "get_sigmas"),
                **dict.fromkeys(("BasicGuider", "CFGGuider", "DualCFGGuider"), "get_guider"),
                "KSamplerSelect": "get_sampler", "SamplerCustom": "sample", "SamplerCustomAdvanced": "sample",
                "RandomNoise": "get_noise", "DisableNoise": "get_noise", "MaskToImage": "mask_to_image",
                "ImageToMask": "image_to_mask", "InvertMask": "invert", "SolidMask": "solid", "CropMask": "crop",
                "GrowMask": "expand_mask", "FeatherMask": "feather", "MaskComposite": "combine",
                "ImageCompositeMasked": "composite", "ImageCrop": "crop", "RepeatImageBatch": "repeat",
                "ImageFromBatch": "frombatch"}


def _ksampler_module() -> Any:
    """host.models.sampling.ksampler_run (KSampler's run and its helpers)."""
    import importlib

    return importlib.import_module("host.models.sampling.ksampler_run")


def _manager() -> Any:
    from builtin_nodes.node_env import manager

    return manager()


def _using(model: Any, fn: Callable[[], Any], device_attr: str | None = None) -> Any:
    models = _manager()
    device = getattr(models.plan, device_attr) if device_attr else None
    models.use(model, device=device)
    try:
        return fn()
    finally:
        models.done(model)


# -- CLIP ----------------------------------------------------------------------------------------------
def tokens_as_comfy(clip: Any, tokens: Any) -> Any:
    """ComfyUI's token form, which packs read and edit: ``{encoder: [[(token, weight), ...] per chunk of 77]}``
    (``"l"``, ``"h"``, ``"g"``; SDXL has ``"l"`` and ``"g"``); a token is an id or an embedding vector."""
    from host.models.clip_sdxl import SDXLTokens
    from host.models.conditioning import TokenBatch

    def chunks(batch: TokenBatch) -> list[list[tuple[Any, float]]]:
        return [[(t, float(w)) for t, w in c] for c in batch.chunks]

    if isinstance(tokens, SDXLTokens):
        return {"l": chunks(tokens.l), "g": chunks(tokens.g)}
    if isinstance(tokens, TokenBatch):
        return {str(getattr(clip, "kind", None) or "l"): chunks(tokens)}
    return tokens


def tokens_from_comfy(clip: Any, tokens: Any) -> Any:
    """The host's tokens from ComfyUI's form (pairs or ``(token, weight, word_id)`` triples, lists or tuples)."""
    from host.models.clip_sdxl import SDXLTokens
    from host.models.conditioning import TokenBatch

    if not isinstance(tokens, dict):
        return tokens

    def batch(key: str) -> TokenBatch:
        if key not in tokens:
            raise ValueError(f"tokens for this CLIP need the key {key!r}; got {sorted(tokens)}")
        return TokenBatch([[(t[0], float(t[1])) for t in c] for c in tokens[key]])

    kind = str(getattr(clip, "kind", None) or "l")
    if kind == "lg":
        return SDXLTokens(batch("l"), batch("g"))
    return batch(kind if kind in tokens else next(iter(tokens), kind))


def clip_encode_from_tokens(clip: Any, tokens: Any, return_pooled: Any = False, return_dict: bool = False) -> Any:
    tokens = tokens_from_comfy(clip, tokens)
    cond, pooled = _using(clip, lambda: clip.encode(tokens), "text_encoder_device")
    if return_dict:
        return {"cond": cond, "pooled_output": pooled}
    return (cond, pooled) if return_pooled else cond


def clip_encode_from_tokens_scheduled(clip: Any, tokens: Any, unprojected: bool = False,
                                      add_dict: dict[str, Any] | None = None) -> Any:
    tokens = tokens_from_comfy(clip, tokens)
    cond, pooled = _using(clip, lambda: clip.encode(tokens), "text_encoder_device")
    return [[cond, {"pooled_output": pooled, **(add_dict or {})}]]


def clip_encode(clip: Any, text: str) -> Any:
    return clip_encode_from_tokens(clip, clip.tokenize(text))


def clip_clone(clip: Any) -> Any:
    return clip.clone()


def clip_set_last_layer(clip: Any, layer: int) -> None:
    clip.set_last_layer(layer)


def clip_tokenize(clip: Any, text: str, return_word_ids: bool = False, **_: Any) -> Any:
    return tokens_as_comfy(clip, clip.tokenize(text))


# -- VAE -----------------------------------------------------------------------------------------------
def vae_decode(vae: Any, samples: Any, **_: Any) -> Any:
    return _using(vae, lambda: vae.decode(samples), "vae_device")


def vae_encode(vae: Any, pixels: Any) -> Any:
    return _using(vae, lambda: vae.encode(pixels), "vae_device")


def vae_decode_tiled(vae: Any, samples: Any, tile_x: int = 64, tile_y: int = 64, overlap: int = 16,
                     **_: Any) -> Any:
    return _using(vae, lambda: vae.decode_tiled(samples, tile_x, tile_y, overlap), "vae_device")


def vae_encode_tiled(vae: Any, pixels: Any, tile_x: int = 512, tile_y: int = 512, overlap: int = 64,
                     **_: Any) -> Any:
    return _using(vae, lambda: vae.encode_tiled(pixels, tile_x, tile_y, overlap), "vae_device")


def vae_info(vae: Any) -> dict[str, Any]:
    return {"latent_channels": int(getattr(vae, "latent_channels", 4)), "downscale": int(getattr(vae, "downscale", 8)),
            "dtype": str(getattr(vae, "dtype", "torch.float32")).removeprefix("torch.")}


# -- MODEL ---------------------------------------------------------------------------------------------
def model_info(model: Any) -> dict[str, Any]:
    """What a ModelPatcher proxy answers locally: the family, its latent format and its sigmas."""
    ms = _ksampler_module().model_sampling_of(model)
    family = getattr(model, "family", None)
    return {"prediction": str(getattr(model, "prediction", "eps")),
            "latent_channels": int(getattr(model, "latent_channels", 4)),
            "latent_scale": float(getattr(model, "latent_scale", 0.18215)),
            "family": str(getattr(family, "name", "") or ""), "sigmas": ms.sigmas.float().cpu(),
            "dtype": str(getattr(model, "dtype", "torch.float32")).removeprefix("torch."),
            "size": int(model.nbytes()) if hasattr(model, "nbytes") else 0}


_METHODS: dict[str, dict[str, Callable[..., Any]]] = {
    "TextEncoder": {"encode_from_tokens": clip_encode_from_tokens, "encode": clip_encode, "clone": clip_clone,
                    "encode_from_tokens_scheduled": clip_encode_from_tokens_scheduled, "tokenize": clip_tokenize,
                    "clip_layer": clip_set_last_layer, "set_last_layer": clip_set_last_layer},
    "VAE": {"decode": vae_decode, "encode": vae_encode, "decode_tiled": vae_decode_tiled,
            "encode_tiled": vae_encode_tiled, "info": vae_info},
    "PixelSpaceVAE": {"decode": vae_decode, "encode": vae_encode, "info": vae_info},
    "DiffusionModel": {"model_info": model_info},
}


def method_of(target: Any, method: str) -> Callable[..., Any] | None:
    """The entry for ``target``'s class; a patched value (host.models.patcher.ModelPatcher: a LoRA, a pack's
    clone) has its loaded value's methods."""
    if type(target).__name__ == "ModelPatcher":
        return method_of(target.model, method)
    for klass in type(target).__mro__:
        table = _METHODS.get(klass.__name__)
        if table is not None:
            return table.get(method)
    return None


def sample(model: Any, noise: Any, steps: int, cfg: float, sampler_name: str, scheduler: str, positive: Any,
           negative: Any, latent_image: Any, denoise: float = 1.0, disable_noise: bool = False,
           start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = False,
           noise_mask: Any = None, seed: int | None = None, sigmas: Any = None) -> Any:
    """``comfy.sample.sample`` on the host: the host's KSampler with the pack's noise; returns the samples."""
    from host.models.sampling import SamplingInterrupted
    ksampler = _ksampler_module().ksampler
    from isolate.context import InterruptProcessingException, interrupt_requested, report_progress

    models = _manager()
    latent = {"samples": latent_image}
    if noise_mask is not None:
        latent["noise_mask"] = noise_mask

    def callback(step: int, total: int, x0: Any) -> None:
        report_progress(step + 1, total)

    models.use(model)
    try:
        return ksampler(model, seed=int(seed or 0), steps=steps, cfg=cfg, sampler_name=sampler_name,
                        scheduler=scheduler, positive=positive, negative=negative, latent=latent, denoise=denoise,
                        add_noise=not disable_noise, start_step=start_step, last_step=last_step,
                        force_full_denoise=force_full_denoise, callback=callback, interrupted=interrupt_requested,
                        device=models.device, noise=noise, sigmas=sigmas)
    except SamplingInterrupted as exc:
        raise InterruptProcessingException() from exc
    finally:
        models.done(model)


def model_state_dict(model: Any, filter_prefix: str | None = None) -> dict[str, Any]:
    """The MODEL's weights by ComfyUI's names (``diffusion_model.*``), as they are now (copied to the pack)."""
    from host.models.patcher import ModelPatcher

    value = model if isinstance(model, ModelPatcher) else ModelPatcher(model)
    return {k: t.detach() for k, t in value.model_state_dict(filter_prefix).items()}


def model_calculate_sigmas(model: Any, scheduler: str, steps: int) -> Any:
    from host.models.sampling import calculate_sigmas

    return calculate_sigmas(_ksampler_module().model_sampling_of(model), scheduler, steps)


_METHODS["DiffusionModel"]["calculate_sigmas"] = model_calculate_sigmas
_METHODS["DiffusionModel"]["model_state_dict"] = model_state_dict
