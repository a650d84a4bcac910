"""``ksampler``: KSampler / KSamplerAdvanced as ComfyUI runs them (``nodes.common_ksampler``,
``comfy.sample.sample``, ``KSampler.sample``, ``CFGGuider.inner_sample``, ``KSAMPLER.sample``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .conds import prepare_conds
from .errors import LatentChannelsMismatch
from .guidance import GuidedDenoiser, ModelCall
from .model_options import sampler_options
from .model_sampling import ModelSampling
from .noise import cpu_generator, prepare_noise
from .schedulers import ksampler_sigmas
from .table import INPAINT_RANDOM_NOISE, sampler_function

StepCallback = Callable[[int, int, Tensor], None]

# the latent of an all-zero (black) image, per channel, for inpainting models without a mask (SD1 VAE)
BLANK_INPAINT_LATENT = (0.8223, -0.6876, 0.6364, 0.1380)


def model_sampling_of(model: Any) -> ModelSampling:
    ms = getattr(model, "model_sampling", None)
    return ms if isinstance(ms, ModelSampling) else ModelSampling.discrete(getattr(model, "prediction", "eps"))


def fix_empty_latent_channels(model: Any, samples: Tensor) -> Tensor:
    """An empty (all-zero) latent of another channel count is widened to the model's; any other mismatch is
    a LatentChannelsMismatch."""
    want = int(getattr(model, "latent_channels", 4))
    if samples.ndim != 4:
        raise LatentChannelsMismatch(f"a latent must be [batch, {want}, h, w]; got shape {list(samples.shape)}")
    if samples.shape[1] == want:
        return samples
    if torch.count_nonzero(samples) == 0:
        return samples.repeat(1, -(-want // samples.shape[1]), 1, 1)[:, :want]
    raise LatentChannelsMismatch(f"the latent has {samples.shape[1]} channels but the model denoises {want}-channel "
                                 f"latents (shape {list(samples.shape)})")


def prepare_mask(mask: Tensor, shape: torch.Size, device: torch.device) -> Tensor:
    """A noise mask [B,1,H,W] | [B,H,W] | [H,W] resized bilinearly to the latent, repeated to its channels and
    batch (``utils.reshape_mask``)."""
    m = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    m = F.interpolate(m, size=tuple(shape[2:]), mode="bilinear")
    if m.shape[1] < shape[1]:
        m = m.repeat(1, shape[1], 1, 1)[:, : shape[1]]
    if m.shape[0] < shape[0]:
        m = m.repeat(-(-shape[0] // m.shape[0]), 1, 1, 1)
    return m[: shape[0]].to(device)


def _unet_in_channels(model: Any) -> int | None:
    cfg = getattr(getattr(model, "unet", None), "config", None)
    return getattr(cfg, "in_channels", None)


def inpaint_concat(model: Any, positive: list, noise: Tensor, latent: Tensor, mask: Tensor | None) -> Tensor | None:
    """The mask + masked-latent channels an inpainting UNet (in_channels > latent channels) takes
    (``BaseModel.concat_cond``): InpaintModelConditioning's concat_latent_image/concat_mask when given, else
    the noise mask and the latent, else an unmasked blank image."""
    in_ch = _unet_in_channels(model)
    if in_ch is None or in_ch <= noise.shape[1]:
        return None
    opts = positive[0][1] if positive else {}
    scale = float(getattr(model, "latent_scale", 0.18215))
    image = opts.get("concat_latent_image")
    image = latent if image is None else image.to(noise.device) * scale
    if image.shape[-2:] != noise.shape[-2:]:
        image = F.interpolate(image, size=noise.shape[-2:], mode="bilinear")
    image = image.repeat(-(-noise.shape[0] // image.shape[0]), 1, 1, 1)[: noise.shape[0]]
    m = opts.get("concat_mask", mask)
    if m is None:
        blank = torch.ones_like(noise) * torch.tensor(BLANK_INPAINT_LATENT, device=noise.device).view(1, -1, 1, 1)
        return torch.cat([torch.ones_like(noise)[:, :1], blank], dim=1)
    m = m.to(noise.device)
    m = m[:, :1] if m.ndim == noise.ndim else m
    m = m.reshape((-1, 1) + tuple(m.shape[-2:])).float()
    if m.shape[-2:] != noise.shape[-2:]:
        m = F.interpolate(m, size=noise.shape[-2:], mode="bilinear")
    m = m.round().repeat(-(-noise.shape[0] // m.shape[0]), 1, 1, 1)[: noise.shape[0]]
    return torch.cat([m, image], dim=1)


def advanced_sigmas(sigmas: Tensor, start_step: int | None, last_step: int | None,
                    force_full_denoise: bool) -> Tensor | None:
    """KSamplerAdvanced's cut: end first (its last sigma 0 unless leftover noise is kept), then start. None
    means nothing to do (start at or past the end): the latent is returned unchanged."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[: last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return None
        sigmas = sigmas[start_step:]
    return sigmas


def ksampler(model: Any, *, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
             positive: list, negative: list, latent: dict[str, Any], denoise: float = 1.0, add_noise: bool = True,
             start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = False,
             callback: StepCallback | None = None, interrupted: Callable[[], bool] | None = None,
             device: Any = None, noise: Tensor | None = None,
             sigmas: Tensor | None = None) -> Tensor:
    """Denoise ``latent["samples"]`` with a DiffusionModel; returns the new samples (fp32, CPU, unscaled).

    ``callback(i, total, x0)`` after each step's first model call: i is the 0-based step, total the number of
    steps, x0 the denoised estimate in scaled latent space (what previews show). ``interrupted()`` is checked
    before every model call; True raises SamplingInterrupted. Initial noise is made on the CPU from the seed
    (``torch.manual_seed(seed)`` + ``torch.randn``), then moved to ``device`` (default: model.device); a given
    ``noise`` (``comfy.sample.sample``'s, the latent's shape) is used instead when noise is added, and given
    ``sigmas`` instead of the scheduler's."""
    sampler = sampler_function(sampler_name)
    samples = fix_empty_latent_channels(model, latent["samples"])
    if add_noise and noise is not None:
        noise = noise.to("cpu", samples.dtype)
    elif add_noise:
        noise = prepare_noise(samples, seed, latent.get("batch_index"))
    else:
        noise = torch.zeros(samples.shape, dtype=samples.dtype, device="cpu")
    ms = model_sampling_of(model)
    if sigmas is None:  # a given schedule (``comfy.sample.sample_custom``'s) is used as it is
        sigmas = advanced_sigmas(ksampler_sigmas(ms, scheduler, sampler_name, steps, denoise), start_step,
                                 last_step, force_full_denoise)
    if sigmas is None or len(sigmas) == 0:
        return samples
    device = torch.device(device if device is not None else getattr(model, "device", "cpu"))
    scale = float(getattr(model, "latent_scale", 0.18215))
    latent_in = samples * scale if torch.count_nonzero(samples) > 0 else samples
    noise, latent_in, sigmas = noise.to(device), latent_in.to(device), sigmas.to(device)
    mask = latent.get("noise_mask")
    mask = prepare_mask(mask, noise.shape, device) if mask is not None else None
    dims = (noise.shape[2], noise.shape[3])
    pos, neg = prepare_conds(model, positive, negative, dims, device, ms, seed)
    call = ModelCall(model.unet, ms.to(device), getattr(model, "dtype", torch.float32),
                     concat=inpaint_concat(model, positive, noise, latent_in, mask), options=sampler_options(model))
    inpaint_noise = noise
    if mask is not None and sampler_name in INPAINT_RANDOM_NOISE:
        inpaint_noise = torch.randn(noise.shape, generator=cpu_generator(seed + 1), device="cpu").to(device)
    denoiser = GuidedDenoiser(call, pos, neg, cfg, interrupted, latent_in, mask, inpaint_noise,
                              tuple(getattr(model, "pre_cfg_functions", ())))
    x = ms.noise_scaling(sigmas[0], noise, latent_in, ms.is_max_denoise(sigmas))
    total = len(sigmas) - 1

    def on_step(payload: dict[str, Any]) -> None:
        if callback is not None:
            # dpm_adaptive takes as many steps as it needs; the count shown stops at the total
            callback(min(int(payload["i"]), total - 1), total, payload["denoised"])

    out = sampler(denoiser, x, sigmas, extra_args={"seed": seed}, callback=on_step)
    return (ms.inverse_noise_scaling(sigmas[-1], out).float() / scale).to("cpu")
