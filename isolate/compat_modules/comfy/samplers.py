"""ComfyUI's ``comfy.samplers`` in a pack child: ``KSampler.SAMPLERS`` / ``SCHEDULERS`` (the host's names, in
ComfyUI's order), ``calculate_sigmas`` (pure torch, over a model's sigmas), ``sampler_object`` / ``KSAMPLER``
and ``CFGGuider`` as descriptions the host's sampler runs. Sampling itself happens on the host."""

from __future__ import annotations

from typing import Any


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
    """``KSampler.SAMPLERS`` / ``SCHEDULERS`` (read at class definition or INPUT_TYPES time); sampling with
    it runs on the host: ``comfy.sample.sample``."""

    DISCARD_PENULTIMATE_SIGMA_SAMPLERS = {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}

    def __init__(self, model: Any, steps: int, device: Any = None, sampler: str | None = None,
                 scheduler: str | None = None, denoise: float | None = None, model_options: Any = None) -> None:
        self.model, self.steps, self.device = model, steps, device
        self.sampler, self.scheduler, self.denoise = sampler, scheduler, 1.0 if denoise is None else denoise


def __getattr__(name: str) -> Any:
    if name == "SAMPLER_NAMES":
        return _names("samplers")
    if name == "SCHEDULER_NAMES":
        return _names("schedulers")
    if name == "KSAMPLER_NAMES":
        return [n for n in _names("samplers") if n not in ("ddim", "uni_pc", "uni_pc_bh2")]
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)


class KSAMPLER:
    """A sampler by name with its options (``sampler_object``); the host's sampler of that name runs it."""

    def __init__(self, sampler_function: Any, extra_options: dict[str, Any] | None = None,
                 inpaint_options: dict[str, Any] | None = None) -> None:
        self.sampler_function = sampler_function
        self.extra_options = dict(extra_options or {})
        self.inpaint_options = dict(inpaint_options or {})


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
