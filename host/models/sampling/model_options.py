"""A MODEL's ``model_options`` as ComfyUI's sampler applies them (``sampling_function``, ``cfg_function``,
``calc_cond_batch``): read once per sampling into :class:`SamplerOptions`.

Per denoiser call, in ComfyUI's order: the cond and uncond predictions (the negative skipped at cfg 1 unless
``disable_cfg1_optimization``), each ``sampler_pre_cfg_function`` (``args["conds_out"]`` in, the list out), then
``sampler_cfg_function`` (it gets noise predictions ``x - D`` as ``cond``/``uncond`` and returns the guided
noise, so D = x - result) or plain CFG, then each ``sampler_post_cfg_function`` (``args["denoised"]`` in, D
out). Around every UNet call ``model_function_wrapper(apply_model, {"input", "timestep", "c",
"cond_or_uncond"})`` when set; inside it the attention and block patches of ``transformer_options``
(host.models.attention_patches). The functions may be the host's or a pack's (called back in its child).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

_KEYS = ("sampler_cfg_function", "sampler_post_cfg_function", "sampler_pre_cfg_function",
         "model_function_wrapper", "disable_cfg1_optimization")


@dataclass(frozen=True, eq=False)
class SamplerOptions:
    """What of a MODEL's model_options the sampler applies; ``model`` is the MODEL (ComfyUI's ``model`` arg)."""

    model: Any
    options: dict[str, Any]
    cfg_function: Callable[[dict[str, Any]], Tensor] | None = None
    post_cfg: tuple[Callable[[dict[str, Any]], Tensor], ...] = ()
    pre_cfg: tuple[Callable[[dict[str, Any]], list[Tensor]], ...] = ()
    wrapper: Callable[..., Tensor] | None = None
    disable_cfg1: bool = False
    #: transformer_options["patches"] / ["patches_replace"] (name -> list / name -> {block key: fn})
    patches: dict[str, list[Any]] = field(default_factory=dict)
    replace: dict[str, dict[Any, Any]] = field(default_factory=dict)
    #: the other transformer_options entries, given to the patches as ComfyUI does
    transformer: dict[str, Any] = field(default_factory=dict)

    @property
    def patches_unet(self) -> bool:
        return bool(self.patches or self.replace)


def sampler_options(model: Any) -> SamplerOptions | None:
    """The options of a MODEL (a host ModelPatcher's ``model_options``); None when it has none to apply."""
    options = getattr(model, "model_options", None)
    if not isinstance(options, dict):
        return None
    topts = options.get("transformer_options") or {}
    patches = {k: list(v) for k, v in (topts.get("patches") or {}).items() if v}
    replace = {k: dict(v) for k, v in (topts.get("patches_replace") or {}).items() if v}
    if not (patches or replace or any(options.get(k) for k in _KEYS)):
        return None
    return SamplerOptions(model, options, options.get("sampler_cfg_function"),
                          tuple(options.get("sampler_post_cfg_function") or ()),
                          tuple(options.get("sampler_pre_cfg_function") or ()),
                          options.get("model_function_wrapper"), bool(options.get("disable_cfg1_optimization")),
                          patches, replace, {k: v for k, v in topts.items() if k not in ("patches", "patches_replace")})


def skips_uncond(cfg: float, keep_uncond: bool, opts: SamplerOptions | None) -> bool:
    return math.isclose(cfg, 1.0) and not keep_uncond and not (opts is not None and opts.disable_cfg1)


def guide(opts: SamplerOptions, cond: Tensor, uncond: Tensor, cfg: float, x: Tensor, sigma: Tensor,
          positive: Any, negative: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(guided D, cond D, uncond D) after the pre-CFG, CFG and post-CFG functions (``negative`` None when it
    was skipped)."""
    common = {"cond_scale": cfg, "timestep": sigma, "input": x, "sigma": sigma, "model": opts.model,
              "model_options": opts.options}
    for fn in opts.pre_cfg:
        cond, uncond = fn({**common, "conds": [positive, negative], "conds_out": [cond, uncond]})[:2]
    if opts.cfg_function is not None:
        out = x - opts.cfg_function({**common, "cond": x - cond, "uncond": x - uncond, "cond_denoised": cond,
                                     "uncond_denoised": uncond})
    else:
        out = uncond + (cond - uncond) * cfg
    for fn in opts.post_cfg:
        out = fn({**common, "denoised": out, "cond": positive, "uncond": negative, "cond_denoised": cond,
                  "uncond_denoised": uncond})
    return out, cond, uncond


__all__ = ["SamplerOptions", "guide", "sampler_options", "skips_uncond"]
