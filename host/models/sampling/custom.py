"""Custom sampling as ComfyUI's SamplerCustom / SamplerCustomAdvanced run it (``CFGGuider.sample``,
``KSAMPLER.sample``): a SAMPLER (a sampler function with its options), SIGMAS, a NOISE source and a GUIDER
(the model, its conditioning and how predictions combine), in the same order of operations as ``ksampler``
so the same settings give the same latent."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

# through the package first: loading the submodule ``ksampler`` by its own name would rebind the package's
# ``ksampler`` (the function, loaded lazily) to the module
from .conds import Cond, add_same_area, class_embedding, resolve, share_positive
from .errors import SamplingInterrupted, WrongInputType
from .guidance import GuidedDenoiser, ModelCall, calc_cond_batch
from .ksampler_run import fix_empty_latent_channels, inpaint_concat, model_sampling_of, prepare_mask
from .model_options import sampler_options
from .model_sampling import ModelSampling
from .noise import cpu_generator, prepare_noise
from .sigma_ops import check_sigmas
from .table import INPAINT_RANDOM_NOISE, SamplerFn, sampler_function

StepCallback = Callable[[int, int, Tensor], None]


@dataclass(frozen=True, eq=False)
class Sampler:
    """The SAMPLER value: a sampler of the table by name, with the keyword options it is called with."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sampler_function(self.name)  # an unknown or unimplemented name fails here, where it is chosen

    @property
    def function(self) -> SamplerFn:
        return sampler_function(self.name)

    # ComfyUI's KSAMPLER attribute names, for code that reads them
    sampler_function = function

    @property
    def extra_options(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def inpaint_options(self) -> dict[str, Any]:
        """``random``: the kept region of an inpaint is re-noised with a seed+1 draw (ddim)."""
        return {"random": True} if self.name in INPAINT_RANDOM_NOISE else {}


class Noise(Protocol):
    """NOISE as ComfyUI has it: a ``seed`` (the sampler's own noise is seeded with it) and
    ``generate_noise(latent)``, the initial noise for a LATENT dict, on the CPU."""

    seed: int

    def generate_noise(self, input_latent: dict[str, Any]) -> Tensor: ...


@dataclass(frozen=True)
class RandomNoise:
    """NOISE from a seed: ComfyUI's initial noise (one CPU randn, or per ``batch_index`` draws)."""

    seed: int

    def generate(self, samples: Tensor, batch_index: Sequence[int] | None = None) -> Tensor:
        return prepare_noise(samples, self.seed, batch_index)

    def generate_noise(self, input_latent: dict[str, Any]) -> Tensor:
        return self.generate(input_latent["samples"], input_latent.get("batch_index"))


@dataclass(frozen=True)
class DisableNoise:
    """NOISE that is all zeros (sampling starts from the latent itself); its seed, for the sampler, is 0."""

    seed: int = 0

    def generate(self, samples: Tensor, batch_index: Sequence[int] | None = None) -> Tensor:
        return torch.zeros(samples.shape, dtype=samples.dtype, device="cpu")

    def generate_noise(self, input_latent: dict[str, Any]) -> Tensor:
        return self.generate(input_latent["samples"])


def check_noise(noise: Any) -> Noise:
    """Any NOISE: ours, or a pack's object with ComfyUI's ``seed`` and ``generate_noise``."""
    if not callable(getattr(noise, "generate_noise", None)) or not isinstance(getattr(noise, "seed", None), int):
        raise WrongInputType(f"noise must be NOISE (RandomNoise, DisableNoise or an object with a seed and "
                             f"generate_noise), got {type(noise).__name__}")
    return noise


def _initial_noise(noise: Noise, samples: Tensor, latent: dict[str, Any]) -> Tensor:
    drawn = noise.generate_noise({**latent, "samples": samples})
    if not isinstance(drawn, Tensor) or drawn.shape != samples.shape:
        raise WrongInputType(f"the NOISE gave {getattr(drawn, 'shape', type(drawn).__name__)} for a latent of shape "
                             f"{list(samples.shape)}")
    return drawn.to(dtype=samples.dtype, device="cpu")


class DualGuidedDenoiser(GuidedDenoiser):
    """DualCFGGuider's combination of positive (cond1), middle (cond2) and negative predictions.

    regular: D = n + cfg2·(m - n) + cfg1·(p - m); nested: D = n + cfg2·((m + cfg1·(p - m)) - n). The
    unconditional prediction the CFG++ samplers step with is n (regular) or m (nested)."""

    def __init__(self, model: ModelCall, positive: list[Cond], middle: list[Cond], negative: list[Cond],
                 cfg1: float, cfg2: float, nested: bool, **kwargs: Any) -> None:
        super().__init__(model, positive, negative, cfg1, **kwargs)
        self.middle, self.cfg2, self.nested = middle, cfg2, nested

    def guide(self, x: Tensor, sigma: Tensor, keep_uncond: bool) -> tuple[Tensor, Tensor]:
        if self.interrupted is not None and self.interrupted():
            raise SamplingInterrupted("sampling interrupted")
        negative: list[Cond] | None = self.negative
        middle: list[Cond] | None = self.middle
        if not self.nested and not keep_uncond and math.isclose(self.cfg2, 1.0):
            negative = None
            if math.isclose(self.cfg, 1.0):
                middle = None
        n, m, p = calc_cond_batch(self.model, [negative, middle, self.positive], x, sigma)
        if self.nested:
            text = m + (p - m) * self.cfg
            return n + (text - n) * self.cfg2, m
        return n + (m - n) * self.cfg2 + (p - m) * self.cfg, n


def _mirror(lists: list[list[Cond]]) -> None:
    """Every area entry gets an equal-area copy in each other list (``create_cond_with_same_area_if_none``)."""
    for i, source in enumerate(lists):
        for c in list(source):
            for j, target in enumerate(lists):
                if i != j:
                    add_same_area(target, c)


def _resolve(model: Any, conditioning: list, dims: tuple[int, int], device: torch.device, ms: ModelSampling,
             prompt_type: str, seed: int = 0) -> list[Cond]:
    """``resolve`` with the model's own inputs (unCLIP's class embedding, SDXL's ADM y: host.models.adm) for
    ``prompt_type``."""
    from host.models.adm import adm_encoder

    return resolve(conditioning, dims, device, ms, class_embedding(model, seed), adm_encoder(model), prompt_type)


@dataclass
class CFGGuider:
    """The GUIDER of CFGGuider (and, with cfg 1 and no negative, of BasicGuider)."""

    model: Any
    positive: list
    negative: list = field(default_factory=list)
    cfg: float = 1.0

    @property
    def model_patcher(self) -> Any:
        """ComfyUI's name for the guider's model."""
        return self.model

    def conds(self, dims: tuple[int, int], device: torch.device, ms: ModelSampling,
              seed: int = 0) -> list[list[Cond]]:
        lists = [_resolve(self.model, self.positive, dims, device, ms, "positive", seed),
                 _resolve(self.model, self.negative, dims, device, ms, "negative", seed)]
        _mirror(lists)
        share_positive(lists)
        return lists

    def denoiser(self, call: ModelCall, conds: list[list[Cond]], **kwargs: Any) -> GuidedDenoiser:
        return GuidedDenoiser(call, conds[0], conds[1], self.cfg, **kwargs)


def basic_guider(model: Any, conditioning: list) -> CFGGuider:
    return CFGGuider(model, conditioning, [], 1.0)


@dataclass
class DualCFGGuider(CFGGuider):
    middle: list = field(default_factory=list)
    cfg2: float = 1.0
    nested: bool = False

    def conds(self, dims: tuple[int, int], device: torch.device, ms: ModelSampling,
              seed: int = 0) -> list[list[Cond]]:
        lists = [_resolve(self.model, c, dims, device, ms, kind, seed)
                 for c, kind in ((self.positive, "positive"), (self.middle, "middle"), (self.negative, "negative"))]
        _mirror(lists)
        share_positive(lists)
        return lists

    def denoiser(self, call: ModelCall, conds: list[list[Cond]], **kwargs: Any) -> GuidedDenoiser:
        return DualGuidedDenoiser(call, conds[0], conds[1], conds[2], self.cfg, self.cfg2, self.nested, **kwargs)


def check_kind(value: Any, kind: type | tuple[type, ...], name: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise WrongInputType(f"{name} must be {what}, got {type(value).__name__}")
    return value


def check_model(model: Any) -> Any:
    """``model`` as a MODEL (a diffusion model with a UNet), or a WrongInputType."""
    if getattr(model, "unet", None) is None:
        raise WrongInputType(f"model must be a MODEL (a loaded diffusion model), got {type(model).__name__}")
    return model


def model_sampling(model: Any) -> ModelSampling:
    return model_sampling_of(check_model(model))


@dataclass(frozen=True)
class CustomResult:
    """The sampled latent and the last denoised estimate (both fp32, CPU, unscaled; x0 None when no step ran)."""

    samples: Tensor
    x0: Tensor | None


def sample_custom(guider: CFGGuider, noise: Noise, sampler: Sampler, sigmas: Tensor, latent: dict[str, Any], *,
                  callback: StepCallback | None = None, interrupted: Callable[[], bool] | None = None,
                  device: Any = None) -> CustomResult:
    """Sample ``latent["samples"]`` along ``sigmas``; empty sigmas leave the latent as it is (denoise 0).

    ``callback(i, total, x0)`` after each step (x0 in scaled latent space); ``interrupted()`` before every
    model call, True raising SamplingInterrupted. The sampler's own noise is seeded with ``noise.seed``."""
    check_kind(guider, CFGGuider, "guider", "a GUIDER (CFGGuider, DualCFGGuider or BasicGuider)")
    check_noise(noise)
    check_kind(sampler, Sampler, "sampler", "a SAMPLER (KSamplerSelect or a Sampler* node)")
    sigmas = check_sigmas(sigmas).float()
    model = check_model(guider.model)
    samples = fix_empty_latent_channels(model, latent["samples"])
    initial = _initial_noise(noise, samples, latent)
    if len(sigmas) == 0:
        return CustomResult(samples, None)
    ms = model_sampling_of(model)
    device = torch.device(device if device is not None else getattr(model, "device", "cpu"))
    scale = float(getattr(model, "latent_scale", 0.18215))
    latent_in = samples * scale if torch.count_nonzero(samples) > 0 else samples
    initial, latent_in, sigmas = initial.to(device), latent_in.to(device), sigmas.to(device)
    mask = latent.get("noise_mask")
    mask = prepare_mask(mask, initial.shape, device) if mask is not None else None
    conds = guider.conds((initial.shape[2], initial.shape[3]), device, ms, seed=noise.seed)
    call = ModelCall(model.unet, ms.to(device), getattr(model, "dtype", torch.float32),
                     concat=inpaint_concat(model, guider.positive, initial, latent_in, mask),
                     options=sampler_options(model))
    inpaint_noise = initial
    if mask is not None and sampler.name in INPAINT_RANDOM_NOISE:
        inpaint_noise = torch.randn(initial.shape, generator=cpu_generator(noise.seed + 1), device="cpu").to(device)
    denoiser = guider.denoiser(call, conds, interrupted=interrupted, latent=latent_in, mask=mask,
                               inpaint_noise=inpaint_noise)
    x = ms.noise_scaling(sigmas[0], initial, latent_in, ms.is_max_denoise(sigmas))
    total = len(sigmas) - 1
    last: list[Tensor] = []

    def on_step(payload: dict[str, Any]) -> None:
        last[:] = [payload["denoised"]]
        if callback is not None:
            callback(min(int(payload["i"]), total - 1), total, payload["denoised"])

    out = sampler.function(denoiser, x, sigmas, extra_args={"seed": noise.seed}, callback=on_step,
                           **dict(sampler.options))
    samples_out = (ms.inverse_noise_scaling(sigmas[-1], out).float() / scale).to("cpu")
    x0 = (last[0].float().to("cpu") / scale) if last else None
    return CustomResult(samples_out, x0)


def add_noise(model: Any, noise: Noise, sigmas: Tensor, latent: dict[str, Any]) -> Tensor:
    """AddNoise: the latent noised to |sigmas[0] - sigmas[-1]| (sigmas[0] when there is one sigma), without the
    full-denoise factor; NaN and infinities become 0. Empty sigmas return the samples unchanged."""
    check_noise(noise)
    check_model(model)
    sigmas = check_sigmas(sigmas)
    samples = latent["samples"]
    if len(sigmas) == 0:
        return samples
    samples = fix_empty_latent_channels(model, samples)
    drawn = _initial_noise(noise, samples, latent)
    sigma = torch.abs(sigmas[0] - sigmas[-1]) if len(sigmas) > 1 else sigmas[0]
    scale = float(getattr(model, "latent_scale", 0.18215))
    latent_in = samples * scale if torch.count_nonzero(samples) > 0 else samples
    noisy = model_sampling_of(model).noise_scaling(sigma.cpu(), drawn, latent_in) / scale
    return torch.nan_to_num(noisy, nan=0.0, posinf=0.0, neginf=0.0)
