"""ComfyUI's ``comfy.samplers`` in a pack child: ``KSampler.SAMPLERS`` / ``SCHEDULERS`` (the host's names, in
ComfyUI's order), ``calculate_sigmas`` (pure torch, over a model's sigmas), ``sampler_object`` / ``KSAMPLER``
and ``CFGGuider`` as descriptions the host's sampler runs. Sampling itself happens on the host."""

from __future__ import annotations

from typing import Any

from isolate.host_made import HostMade


def _names(key: str) -> list[str]:
    from isolate.core_nodes import host_info

    return list(host_info().get(key) or [])


class _KSamplerMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name in ("SAMPLERS", "SCHEDULERS"):
            value = _names("samplers" if name == "SAMPLERS" else "schedulers")
            setattr(cls, name, value)
            return value
        raise AttributeError(name)


class KSampler(metaclass=_KSamplerMeta):
    """``KSampler.SAMPLERS`` / ``SCHEDULERS`` (read at class definition or INPUT_TYPES time), and ComfyUI's
    object: ``sigmas`` for its steps and denoise (the host's scheduler over the MODEL's sigmas), ``sample``
    (run on the host, as ``comfy.sample.sample_custom``)."""

    DISCARD_PENULTIMATE_SIGMA_SAMPLERS = {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}

    def __init__(self, model: Any, steps: int, device: Any = None, sampler: str | None = None,
                 scheduler: str | None = None, denoise: float | None = None, model_options: Any = None) -> None:
        self.model, self.device = model, device
        self.sampler, self.scheduler = sampler, scheduler
        self.model_options = model_options if model_options is not None else getattr(model, "model_options", {})
        self.set_steps(steps, denoise)
        self.denoise = denoise

    def calculate_sigmas(self, steps: int) -> Any:
        """``steps + 1`` sigmas of this scheduler; the samplers that skip the penultimate sigma get one more
        step computed and that sigma dropped, as ComfyUI does."""
        import torch

        discard = self.sampler in self.DISCARD_PENULTIMATE_SIGMA_SAMPLERS
        sigmas = calculate_sigmas(self.model.get_model_object("model_sampling"), self.scheduler,
                                  steps + 1 if discard else steps)
        return torch.cat([sigmas[:-2], sigmas[-1:]]) if discard else sigmas

    def set_steps(self, steps: int, denoise: float | None = None) -> None:
        """``sigmas`` for ``steps``; a denoise below 1 keeps the last ``steps + 1`` of ``steps / denoise``."""
        import torch

        self.steps = steps
        if denoise is None or denoise > 0.9999:
            self.sigmas = self.calculate_sigmas(steps)
        elif denoise <= 0.0:
            self.sigmas = torch.FloatTensor([])
        else:
            self.sigmas = self.calculate_sigmas(int(steps / denoise))[-(steps + 1):]

    def sample(self, noise: Any, positive: Any, negative: Any, cfg: float, latent_image: Any = None,
               start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = False,
               denoise_mask: Any = None, sigmas: Any = None, callback: Any = None, disable_pbar: bool = False,
               seed: int | None = None) -> Any:
        """The denoised latent over ``sigmas`` (default this object's), cut to ``start_step``..``last_step``;
        a start past the end returns the input latent (or zeros)."""
        import torch

        sigmas = (self.sigmas if sigmas is None else sigmas).clone()
        if last_step is not None and last_step < len(sigmas) - 1:
            sigmas = sigmas[:last_step + 1]
            if force_full_denoise:
                sigmas[-1] = 0
        if start_step is not None:
            if start_step >= len(sigmas) - 1:
                return latent_image if latent_image is not None else torch.zeros_like(noise)
            sigmas = sigmas[start_step:]
        from comfy.sample import sample_custom

        return sample_custom(self.model, noise, cfg, sampler_object(self.sampler), sigmas, positive, negative,
                             latent_image, noise_mask=denoise_mask, callback=callback, disable_pbar=disable_pbar,
                             seed=seed)


def __getattr__(name: str) -> Any:
    if name == "SAMPLER_NAMES":
        return _names("samplers")
    if name == "SCHEDULER_NAMES":
        return _names("schedulers")
    if name == "KSAMPLER_NAMES":
        return [n for n in _names("samplers") if n not in ("ddim", "uni_pc", "uni_pc_bh2")]
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)


class KSAMPLER(HostMade):
    """A sampler by name with its options (``sampler_object``); the host's sampler of that name runs it. Passed
    to a host node (SamplerCustomAdvanced, SamplerCustom) it is the host's KSamplerSelect of that name."""

    def __init__(self, sampler_function: Any, extra_options: dict[str, Any] | None = None,
                 inpaint_options: dict[str, Any] | None = None) -> None:
        self.sampler_function = sampler_function
        self.extra_options = dict(extra_options or {})
        self.inpaint_options = dict(inpaint_options or {})

    def host_node(self) -> str:
        from isolate.standins import NotProvidedError

        if not isinstance(self.sampler_function, str):
            raise NotProvidedError("a KSAMPLER whose sampler function is defined in the pack cannot drive the "
                                   "host's model; only the host's samplers (comfy.samplers.sampler_object) can")
        if self.extra_options or self.inpaint_options:
            raise NotProvidedError(f"KSAMPLER {self.sampler_function!r} with extra options "
                                   f"{sorted(self.extra_options) + sorted(self.inpaint_options)}: pass the host's "
                                   "Sampler* node of that sampler instead (they take its options as inputs)")
        return "KSamplerSelect"

    def host_inputs(self) -> dict[str, Any]:
        return {"sampler_name": self.sampler_function}


def ksampler(sampler_name: str, extra_options: dict[str, Any] | None = None,
             inpaint_options: dict[str, Any] | None = None) -> KSAMPLER:
    return KSAMPLER(sampler_name, extra_options, inpaint_options)


def sampler_object(name: str) -> KSAMPLER:
    if name not in _names("samplers"):
        raise ValueError(f"unknown sampler {name!r}")
    return KSAMPLER(name)


def calculate_sigmas(model_sampling: Any, scheduler_name: str, steps: int) -> Any:
    """The schedule over ``model_sampling`` (a MODEL's ``get_model_object("model_sampling")``), computed by
    the host's scheduler of that name."""
    owner = getattr(model_sampling, "owner", None)
    if owner is None:
        raise TypeError("calculate_sigmas needs the model_sampling of a MODEL (model.get_model_object)")
    return owner._call("calculate_sigmas", scheduler_name, steps)


class CFGGuider:
    """A model with its conditioning and cfg; ``sample`` runs on the host (``comfy.sample.sample_custom``)."""

    def __init__(self, model_patcher: Any) -> None:
        self.model_patcher = model_patcher
        self.model_options = getattr(model_patcher, "model_options", {})
        self.conds: dict[str, Any] = {}
        self.cfg = 1.0

    def set_conds(self, positive: Any, negative: Any) -> None:
        self.conds = {"positive": positive, "negative": negative}

    def set_cfg(self, cfg: float) -> None:
        self.cfg = cfg

    def sample(self, noise: Any, latent_image: Any, sampler: Any, sigmas: Any, denoise_mask: Any = None,
               callback: Any = None, disable_pbar: bool = False, seed: int | None = None) -> Any:
        from comfy.sample import sample_custom

        return sample_custom(self.model_patcher, noise, self.cfg, sampler, sigmas, self.conds.get("positive"),
                             self.conds.get("negative"), latent_image, noise_mask=denoise_mask, callback=callback,
                             disable_pbar=disable_pbar, seed=seed)
