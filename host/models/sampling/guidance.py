"""Classifier-free guidance over a UNet as ComfyUI computes it: every active entry of positive and negative
run as one batch (ordered negative first), area/mask-weighted averages, then D_u + (D_c - D_u)·cfg; the
inpainting blend around it; an interrupt check before every model call. A MODEL's model_options (its CFG
functions, UNet wrapper and attention patches) apply as ComfyUI applies them (sampling.model_options)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from host.models.attention_patches import unet_patches
from host.models.gligen import gligen_call

from .conds import Cond, Job, job_for
from .errors import SamplingInterrupted
from .model_options import SamplerOptions, guide, skips_uncond
from .model_sampling import ModelSampling

UNetCall = Callable[..., Tensor]  # unet(x, timesteps, context=..., y=...) -> Tensor


@dataclass(frozen=True, eq=False)
class ModelCall:
    """D(x; sigma) of a UNet: c_in·x (plus the inpainting concat), cast to the UNet dtype, integer t, output
    back to fp32, D from the uncast x (``BaseModel._apply_model``)."""

    unet: UNetCall
    model_sampling: ModelSampling
    dtype: torch.dtype
    concat: Tensor | None = None    # [B, C, h, w] channels appended to the UNet input (inpainting models)
    options: SamplerOptions | None = None  # the MODEL's model_options to apply (None: none)

    def __call__(self, x: Tensor, sigma: Tensor, context: Tensor, concat: Tensor | None = None,
                 y: Tensor | None = None, control: Any = None, batched: int = 1, gligen: Any = None,
                 cond_or_uncond: list[int] | None = None) -> Tensor:
        """``control``: the batch's sampling.control.Control, ``batched`` the number of entries batched;
        ``gligen``: its GLIGEN grounding (an entry with one runs alone); ``cond_or_uncond``: which list each
        batched entry comes from (0 positive, 1 negative), for the model_options functions."""
        opts = self.options
        if opts is None:
            return self.apply(x, sigma, context, concat, y, control, batched, gligen)
        topts = {**opts.transformer, "cond_or_uncond": list(cond_or_uncond or []), "sigmas": sigma}
        if opts.wrapper is None:
            return self.apply(x, sigma, context, concat, y, control, batched, gligen, topts)
        device = x.device

        def apply_model(input: Tensor, timestep: Tensor, c_crossattn: Tensor | None = None,
                        c_concat: Tensor | None = None, y: Tensor | None = None, control: Any = control,
                        transformer_options: dict[str, Any] | None = None, **_: Any) -> Tensor:
            ctx = context if c_crossattn is None else c_crossattn.to(device)
            return self.apply(input.to(device), timestep.to(device), ctx,
                              None if c_concat is None else c_concat.to(device),
                              None if y is None else y.to(device), control, batched, gligen,
                              {**topts, **(transformer_options or {})})

        c: dict[str, Any] = {"c_crossattn": context, "transformer_options": topts, "control": control}
        if concat is not None:
            c["c_concat"] = concat
        if y is not None:
            c["y"] = y
        return opts.wrapper(apply_model, {"input": x, "timestep": sigma, "c": c,
                                          "cond_or_uncond": list(cond_or_uncond or [])}).to(x.device, x.dtype)

    def apply(self, x: Tensor, sigma: Tensor, context: Tensor, concat: Tensor | None = None,
              y: Tensor | None = None, control: Any = None, batched: int = 1, gligen: Any = None,
              transformer_options: dict[str, Any] | None = None) -> Tensor:
        """ComfyUI's ``apply_model``: D for x at sigma (the UNet's patches applied with ``transformer_options``)."""
        xc = self.model_sampling.calculate_input(sigma, x)
        t = self.model_sampling.timestep(sigma).float()
        kwargs: dict[str, Any] = {"context": context.to(self.dtype)}
        if control is not None:
            kwargs["control"] = control.residuals(xc, t, sigma, context, y, batched, self.model_sampling)
        if concat is not None:
            xc = torch.cat([xc, concat], dim=1)
        if y is not None:
            kwargs["y"] = y.to(self.dtype)
        opts = self.options
        with torch.no_grad(), gligen_call(self.unet, gligen, x), \
                unet_patches(self.unet, opts, transformer_options, list(xc.shape)):
            out = self.unet(xc.to(self.dtype), t, **kwargs).float()
        return self.model_sampling.calculate_denoised(sigma, out, x)


def _can_batch(a: Job, b: Job) -> bool:
    if a.input_x.shape != b.input_x.shape or a.extra.keys() != b.extra.keys() or a.control is not b.control:
        return False
    if (a.gligen is not None or b.gligen is not None) and a is not b:
        return False
    if any(a.extra[k].shape != b.extra[k].shape for k in a.extra):
        return False
    sa, sb = a.cross_attn.shape, b.cross_attn.shape
    if sa[0] != sb[0] or sa[2] != sb[2]:
        return False
    return sa[1] == sb[1] or math.lcm(sa[1], sb[1]) // min(sa[1], sb[1]) <= 4


def _cat_context(contexts: list[Tensor]) -> Tensor:
    """Contexts of unequal length repeated up to their least common multiple, then concatenated."""
    length = math.lcm(*(c.shape[1] for c in contexts))
    return torch.cat([c.repeat(1, length // c.shape[1], 1) for c in contexts])


def _crop(t: Tensor | None, area: tuple[int, int, int, int] | None) -> Tensor | None:
    if t is None or area is None:
        return t
    return t[:, :, area[2]:area[2] + area[0], area[3]:area[3] + area[1]]


def calc_cond_batch(model: ModelCall, conds: list[list[Cond] | None], x: Tensor, sigma: Tensor) -> list[Tensor]:
    """The weighted average prediction of each list of entries (``_calc_cond_batch``)."""
    outs = [torch.zeros_like(x) for _ in conds]
    counts = [torch.ones_like(x) * 1e-37 for _ in conds]
    to_run: list[Job] = []
    for index, entries in enumerate(conds):
        for c in entries or []:
            job = job_for(c, x, sigma, index)
            if job is not None:
                to_run.append(job)
    while to_run:
        first = to_run[0]
        picked = [i for i, job in enumerate(to_run) if _can_batch(job, first)][::-1]
        batch = [to_run[i] for i in picked]
        for i in picked:  # descending, so earlier indices stay valid
            to_run.pop(i)
        concat = None
        if model.concat is not None:
            concat = torch.cat([_crop(model.concat, job.area) for job in batch])
        extra = {k: torch.cat([job.extra[k] for job in batch]) for k in batch[0].extra}
        output = model(torch.cat([job.input_x for job in batch]), torch.cat([sigma] * len(batch)),
                       _cat_context([job.cross_attn for job in batch]), concat=concat, control=first.control,
                       batched=len(batch), gligen=first.gligen, cond_or_uncond=[job.index for job in batch],
                       **extra).chunk(len(batch))
        for job, out in zip(batch, output, strict=True):
            target, count = outs[job.index], counts[job.index]
            if job.area is not None:
                h, w, y0, x0 = job.area
                target, count = target[:, :, y0:y0 + h, x0:x0 + w], count[:, :, y0:y0 + h, x0:x0 + w]
            target += out * job.mult
            count += job.mult
    return [o / c for o, c in zip(outs, counts, strict=True)]


class GuidedDenoiser:
    """The Denoiser samplers see: CFG over positive/negative, the inpainting blend, the interrupt check."""

    def __init__(self, model: ModelCall, positive: list[Cond], negative: list[Cond], cfg: float,
                 interrupted: Callable[[], bool] | None = None, latent: Tensor | None = None,
                 mask: Tensor | None = None, inpaint_noise: Tensor | None = None,
                 pre_cfg: tuple[Callable[[dict], list[Tensor]], ...] = ()) -> None:
        self.model, self.positive, self.negative, self.cfg = model, positive, negative, cfg
        self.interrupted = interrupted
        self.latent, self.mask, self.inpaint_noise = latent, mask, inpaint_noise
        self.pre_cfg = pre_cfg

    def guide(self, x: Tensor, sigma: Tensor, keep_uncond: bool) -> tuple[Tensor, Tensor]:
        """(CFG-combined D, unconditional D); the negative is skipped at cfg 1 unless keep_uncond."""
        if self.interrupted is not None and self.interrupted():
            raise SamplingInterrupted("sampling interrupted")
        opts = self.model.options
        skip = skips_uncond(self.cfg, keep_uncond, opts)
        negative = None if skip else self.negative
        cond, uncond = calc_cond_batch(self.model, [self.positive, negative], x, sigma)
        for fn in self.pre_cfg:  # ComfyUI's pre-CFG functions: [cond, uncond] in, [cond, uncond] out
            cond, uncond = fn({"conds_out": [cond, uncond], "cond_scale": self.cfg, "sigma": sigma, "input": x})
        if opts is not None:
            out, _, uncond = guide(opts, cond, uncond, self.cfg, x, sigma, self.positive, negative)
            return out, uncond
        return uncond + (cond - uncond) * self.cfg, uncond

    def _denoise(self, x: Tensor, sigma: Tensor, keep_uncond: bool) -> tuple[Tensor, Tensor]:
        if self.mask is None:
            return self.guide(x, sigma, keep_uncond)
        keep = 1.0 - self.mask
        s = sigma.reshape(-1, 1, 1, 1)
        x = x * self.mask + (self.inpaint_noise * s + self.latent) * keep
        out, uncond = self.guide(x, sigma, keep_uncond)
        return out * self.mask + self.latent * keep, uncond

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self._denoise(x, sigma, keep_uncond=False)[0]

    def with_uncond(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        return self._denoise(x, sigma, keep_uncond=True)
