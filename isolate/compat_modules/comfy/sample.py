"""ComfyUI's ``comfy.sample`` in a pack child: ``prepare_noise`` and ``fix_empty_latent_channels`` run here
(pure torch); ``sample`` / ``sample_custom`` with a MODEL run on the host, with this noise, by the host's
KSampler (the weights never leave the host)."""

from __future__ import annotations

from typing import Any


def prepare_noise(latent_image: Any, seed: int, noise_inds: Any = None) -> Any:
    """Noise from ``seed`` on the CPU (``torch.manual_seed`` + ``randn``); with ``noise_inds`` each batch item
    gets the noise of its index, as if the batch had been generated up to it."""
    import torch

    generator = torch.manual_seed(seed)
    if noise_inds is None:
        return torch.randn(latent_image.size(), dtype=latent_image.dtype, layout=latent_image.layout,
                           generator=generator, device="cpu")
    unique, inverse = torch.unique(torch.as_tensor(noise_inds), return_inverse=True)
    noises = []
    for i in range(int(unique[-1]) + 1):
        noise = torch.randn([1] + list(latent_image.size())[1:], dtype=latent_image.dtype,
                            layout=latent_image.layout, generator=generator, device="cpu")
        if i in unique:
            noises.append(noise)
    return torch.cat([noises[i] for i in inverse], dim=0)


def fix_empty_latent_channels(model: Any, latent_image: Any) -> Any:
    """An all-zero latent of another channel count is widened to the model's channels."""
    import torch

    channels = int(getattr(getattr(model, "get_model_object", lambda _: None)("latent_format"), "latent_channels", 0)
                   or 4)
    if latent_image.shape[1] != channels and torch.count_nonzero(latent_image) == 0:
        latent_image = latent_image.repeat(1, -(-channels // latent_image.shape[1]), 1, 1)[:, :channels]
    return latent_image


def _host_sample(model: Any, noise: Any, latent_image: Any, **kwargs: Any) -> Any:
    from isolate import host_link
    from isolate.context import current_node

    ctx = current_node()
    return host_link.call("sample", prompt_id=ctx.prompt_id if ctx else "",
                          kwargs={"model": model, "noise": noise, "latent_image": latent_image, **kwargs})


def sample(model: Any, noise: Any, steps: int, cfg: float, sampler_name: str, scheduler: str, positive: Any,
           negative: Any, latent_image: Any, denoise: float = 1.0, disable_noise: bool = False,
           start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = False,
           noise_mask: Any = None, sigmas: Any = None, callback: Any = None, disable_pbar: bool = False,
           seed: int | None = None) -> Any:
    """The denoised latent samples (CPU), sampled on the host."""
    return _host_sample(model, noise, latent_image, steps=steps, cfg=cfg, sampler_name=sampler_name,
                        scheduler=scheduler, positive=positive, negative=negative, denoise=denoise,
                        disable_noise=disable_noise, start_step=start_step, last_step=last_step,
                        force_full_denoise=force_full_denoise, noise_mask=noise_mask, seed=seed, sigmas=sigmas)


def sample_custom(model: Any, noise: Any, cfg: float, sampler: Any, sigmas: Any, positive: Any, negative: Any,
                  latent_image: Any, noise_mask: Any = None, callback: Any = None, disable_pbar: bool = False,
                  seed: int | None = None) -> Any:
    """Sample with a sampler object (``comfy.samplers.sampler_object``) over given sigmas, on the host."""
    name = getattr(sampler, "sampler_function", sampler)
    if not isinstance(name, str):
        from isolate.standins import NotProvidedError

        raise NotProvidedError("sample_custom: only the host's samplers (comfy.samplers.sampler_object) can run; "
                               "a sampler function defined in a pack cannot drive the host's model")
    return _host_sample(model, noise, latent_image, steps=max(len(sigmas) - 1, 1), cfg=cfg, sampler_name=name,
                        scheduler="normal", positive=positive, negative=negative, noise_mask=noise_mask, seed=seed,
                        sigmas=sigmas)


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
