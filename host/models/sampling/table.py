"""The sampler table: ComfyUI's sampler names, in its KSampler combo order, each mapped to a plain function
``fn(model, x, sigmas, extra_args=None, callback=None) -> x`` (k-diffusion's shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from . import dpm_solver, sa_solver, samplers_adams, samplers_dpmpp, samplers_euler, samplers_exp, uni_pc
from .denoiser import Denoiser
from .errors import SamplerNotImplemented, UnknownSampler
from .names import SAMPLER_NAMES

SamplerFn = Callable[..., Tensor]


SAMPLERS: dict[str, SamplerFn] = {
    "euler": samplers_euler.sample_euler,
    "euler_cfg_pp": samplers_euler.sample_euler_cfg_pp,
    "euler_ancestral": samplers_euler.sample_euler_ancestral,
    "euler_ancestral_cfg_pp": samplers_euler.sample_euler_ancestral_cfg_pp,
    "heun": samplers_euler.sample_heun,
    "heunpp2": samplers_euler.sample_heunpp2,
    "exp_heun_2_x0": samplers_exp.sample_exp_heun_2_x0,
    "exp_heun_2_x0_sde": samplers_exp.sample_exp_heun_2_x0_sde,
    "dpm_2": samplers_euler.sample_dpm_2,
    "dpm_2_ancestral": samplers_euler.sample_dpm_2_ancestral,
    "lms": samplers_euler.sample_lms,
    "dpm_fast": dpm_solver.sample_dpm_fast,
    "dpm_adaptive": dpm_solver.sample_dpm_adaptive,
    "dpmpp_2s_ancestral": samplers_dpmpp.sample_dpmpp_2s_ancestral,
    "dpmpp_2s_ancestral_cfg_pp": samplers_dpmpp.sample_dpmpp_2s_ancestral_cfg_pp,
    "dpmpp_sde": samplers_dpmpp.sample_dpmpp_sde,
    "dpmpp_sde_gpu": samplers_dpmpp.sample_dpmpp_sde_gpu,
    "dpmpp_2m": samplers_dpmpp.sample_dpmpp_2m,
    "dpmpp_2m_cfg_pp": samplers_dpmpp.sample_dpmpp_2m_cfg_pp,
    "dpmpp_2m_sde": samplers_dpmpp.sample_dpmpp_2m_sde,
    "dpmpp_2m_sde_gpu": samplers_dpmpp.sample_dpmpp_2m_sde_gpu,
    "dpmpp_2m_sde_heun": samplers_dpmpp.sample_dpmpp_2m_sde_heun,
    "dpmpp_2m_sde_heun_gpu": samplers_dpmpp.sample_dpmpp_2m_sde_heun_gpu,
    "dpmpp_3m_sde": samplers_dpmpp.sample_dpmpp_3m_sde,
    "dpmpp_3m_sde_gpu": samplers_dpmpp.sample_dpmpp_3m_sde_gpu,
    "ddpm": samplers_euler.sample_ddpm,
    "lcm": samplers_euler.sample_lcm,
    "ipndm": samplers_adams.sample_ipndm,
    "ipndm_v": samplers_adams.sample_ipndm_v,
    "deis": samplers_adams.sample_deis,
    "res_multistep": samplers_exp.sample_res_multistep,
    "res_multistep_cfg_pp": samplers_exp.sample_res_multistep_cfg_pp,
    "res_multistep_ancestral": samplers_exp.sample_res_multistep_ancestral,
    "res_multistep_ancestral_cfg_pp": samplers_exp.sample_res_multistep_ancestral_cfg_pp,
    "gradient_estimation": samplers_euler.sample_gradient_estimation,
    "gradient_estimation_cfg_pp": samplers_euler.sample_gradient_estimation_cfg_pp,
    "er_sde": samplers_exp.sample_er_sde,
    "seeds_2": samplers_exp.sample_seeds_2,
    "seeds_3": samplers_exp.sample_seeds_3,
    "sa_solver": sa_solver.sample_sa_solver,
    "sa_solver_pece": sa_solver.sample_sa_solver_pece,
    # ddim is Euler; what differs is the inpainting noise (a seed+1 draw; see INPAINT_RANDOM_NOISE)
    "ddim": samplers_euler.sample_euler,
    "uni_pc": uni_pc.sample_uni_pc,
    "uni_pc_bh2": uni_pc.sample_uni_pc_bh2,
}

# samplers whose masked (kept) region is re-noised with a fresh seed+1 draw instead of the initial noise
INPAINT_RANDOM_NOISE = frozenset({"ddim"})


def sampler_function(name: str) -> SamplerFn:
    """The function for a sampler name; a name outside the combo is UnknownSampler, a combo name this host
    does not implement is SamplerNotImplemented (never a silent substitute)."""
    fn = SAMPLERS.get(name)
    if fn is not None:
        return fn
    if name in SAMPLER_NAMES:
        raise SamplerNotImplemented(f"sampler {name!r} is not implemented by this host")
    raise UnknownSampler(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLER_NAMES)}")


def run_sampler(name: str, model: Denoiser, x: Tensor, sigmas: Tensor, seed: int | None = None,
                callback: Callable[[dict[str, Any]], None] | None = None) -> Tensor:
    """Run a named sampler over a denoiser from x (already noised to sigmas[0])."""
    return sampler_function(name)(model, x, sigmas, extra_args={"seed": seed}, callback=callback)
