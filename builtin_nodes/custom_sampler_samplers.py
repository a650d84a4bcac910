"""The SAMPLER nodes of ComfyUI's comfy_extras.nodes_custom_sampler: KSamplerSelect (any name of the sampler
table) and the Sampler* nodes, each a table sampler with the options the node exposes
(host/models/sampling/custom.py:Sampler)."""

from __future__ import annotations

from typing import Any

from builtin_nodes.custom_sampler_sigmas import fine, schema
from isolate.api import io

SAMPLERS = "sampling/custom_sampling/samplers"


def _sampler(name: str, **options: Any) -> io.NodeOutput:
    from host.models.sampling.custom import Sampler

    return io.NodeOutput(Sampler(name, options))


def _eta_noise(eta_max: float = 100.0, noise_max: float = 100.0) -> list[Any]:
    return [fine("eta", 1.0, max=eta_max), fine("s_noise", 1.0, max=noise_max)]


def _device() -> io.Combo.Input:
    return io.Combo.Input("noise_device", options=["gpu", "cpu"])


def _on(name: str, noise_device: str) -> str:
    """The table name for a Brownian-tree sampler: its ``_gpu`` variant builds the tree on the latent's device."""
    return name if noise_device == "cpu" else f"{name}_gpu"


def _node(node_id: str, inputs: list[Any], **kw: Any) -> io.Schema:
    return schema(node_id, SAMPLERS, inputs, [io.Sampler.Output()], **kw)


class KSamplerSelect(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        from host.models.sampling.names import SAMPLER_NAMES

        return _node("KSamplerSelect", [io.Combo.Input("sampler_name", options=list(SAMPLER_NAMES))])

    @classmethod
    def execute(cls, sampler_name: str) -> io.NodeOutput:
        return _sampler(sampler_name)


class SamplerEulerAncestral(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerEulerAncestral", _eta_noise())

    @classmethod
    def execute(cls, eta: float, s_noise: float) -> io.NodeOutput:
        return _sampler("euler_ancestral", eta=eta, s_noise=s_noise)


class SamplerEulerAncestralCFGPP(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerEulerAncestralCFGPP", _eta_noise(eta_max=1.0, noise_max=10.0),
                     display_name="SamplerEulerAncestralCFG++")

    @classmethod
    def execute(cls, eta: float, s_noise: float) -> io.NodeOutput:
        return _sampler("euler_ancestral_cfg_pp", eta=eta, s_noise=s_noise)


class SamplerLMS(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerLMS", [io.Int.Input("order", default=4, min=1, max=100)])

    @classmethod
    def execute(cls, order: int) -> io.NodeOutput:
        return _sampler("lms", order=order)


class SamplerDPMPP_3M_SDE(io.ComfyNode):  # noqa: N801 - ComfyUI's name
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerDPMPP_3M_SDE", [*_eta_noise(), _device()])

    @classmethod
    def execute(cls, eta: float, s_noise: float, noise_device: str) -> io.NodeOutput:
        return _sampler(_on("dpmpp_3m_sde", noise_device), eta=eta, s_noise=s_noise)


class SamplerDPMPP_2M_SDE(io.ComfyNode):  # noqa: N801
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerDPMPP_2M_SDE", [io.Combo.Input("solver_type", options=["midpoint", "heun"]),
                                             *_eta_noise(), _device()])

    @classmethod
    def execute(cls, solver_type: str, eta: float, s_noise: float, noise_device: str) -> io.NodeOutput:
        return _sampler(_on("dpmpp_2m_sde", noise_device), eta=eta, s_noise=s_noise, solver_type=solver_type)


class SamplerDPMPP_SDE(io.ComfyNode):  # noqa: N801
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerDPMPP_SDE", [*_eta_noise(), fine("r", 0.5, max=100.0), _device()])

    @classmethod
    def execute(cls, eta: float, s_noise: float, r: float, noise_device: str) -> io.NodeOutput:
        return _sampler(_on("dpmpp_sde", noise_device), eta=eta, s_noise=s_noise, r=r)


class SamplerDPMPP_2S_Ancestral(io.ComfyNode):  # noqa: N801
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerDPMPP_2S_Ancestral", _eta_noise())

    @classmethod
    def execute(cls, eta: float, s_noise: float) -> io.NodeOutput:
        return _sampler("dpmpp_2s_ancestral", eta=eta, s_noise=s_noise)


class SamplerDPMAdaptative(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerDPMAdaptative", [
            io.Int.Input("order", default=3, min=2, max=3), fine("rtol", 0.05, max=100.0),
            fine("atol", 0.0078, max=100.0), fine("h_init", 0.05, max=100.0), fine("pcoeff", 0.0, max=100.0),
            fine("icoeff", 1.0, max=100.0), fine("dcoeff", 0.0, max=100.0), fine("accept_safety", 0.81, max=100.0),
            fine("eta", 0.0, max=100.0), fine("s_noise", 1.0, max=100.0)])

    @classmethod
    def execute(cls, **options: Any) -> io.NodeOutput:
        return _sampler("dpm_adaptive", **options)


ER_SDE_ETA = ("Stochastic strength of reverse-time SDE.\nWhen eta=0, it reduces to deterministic ODE. This "
              "setting doesn't apply to ER-SDE solver type.")


class SamplerER_SDE(io.ComfyNode):  # noqa: N801
    """ER-SDE with its own noise scale function, a reverse-time SDE (scale lambda^(eta+1)) or the ODE."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerER_SDE", [
            io.Combo.Input("solver_type", options=["ER-SDE", "Reverse-time SDE", "ODE"]),
            io.Int.Input("max_stage", default=3, min=1, max=3), fine("eta", 1.0, max=100.0, tooltip=ER_SDE_ETA),
            fine("s_noise", 1.0, max=100.0)])

    @classmethod
    def execute(cls, solver_type: str, max_stage: int, eta: float, s_noise: float) -> io.NodeOutput:
        if solver_type == "ODE" or (solver_type == "Reverse-time SDE" and eta == 0):
            eta, s_noise = 0.0, 0.0
        if solver_type == "ER-SDE":
            return _sampler("er_sde", s_noise=s_noise, max_stage=max_stage)
        power = eta + 1.0
        return _sampler("er_sde", s_noise=s_noise, max_stage=max_stage, noise_scaler=lambda x: x**power)


class SamplerSASolver(io.ComfyNode):
    """SA-Solver with its stochastic interval given as sampling percents of the model's schedule."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerSASolver", [
            io.Model.Input("model"), fine("eta", 1.0, max=10.0),
            io.Float.Input("sde_start_percent", default=0.2, min=0.0, max=1.0, step=0.001),
            io.Float.Input("sde_end_percent", default=0.8, min=0.0, max=1.0, step=0.001),
            fine("s_noise", 1.0, max=100.0), io.Int.Input("predictor_order", default=3, min=1, max=6),
            io.Int.Input("corrector_order", default=4, min=0, max=6), io.Boolean.Input("use_pece"),
            io.Boolean.Input("simple_order_2")])

    @classmethod
    def execute(cls, model: Any, eta: float, sde_start_percent: float, sde_end_percent: float, s_noise: float,
                predictor_order: int, corrector_order: int, use_pece: bool, simple_order_2: bool) -> io.NodeOutput:
        from host.models.sampling.custom import model_sampling
        from host.models.sampling.sa_solver import tau_interval

        ms = model_sampling(model)
        tau = tau_interval(ms.percent_to_sigma(sde_start_percent), ms.percent_to_sigma(sde_end_percent), eta=eta)
        return _sampler("sa_solver", tau_func=tau, s_noise=s_noise, predictor_order=predictor_order,
                        corrector_order=corrector_order, use_pece=use_pece, simple_order_2=simple_order_2)


SEEDS2_DESCRIPTION = ("This sampler node can represent multiple samplers:\n\nseeds_2\n- default setting\n\n"
                      "exp_heun_2_x0\n- solver_type=phi_2, r=1.0, eta=0.0\n\n"
                      "exp_heun_2_x0_sde\n- solver_type=phi_2, r=1.0, eta=1.0, s_noise=1.0")


class SamplerSEEDS2(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _node("SamplerSEEDS2", [
            io.Combo.Input("solver_type", options=["phi_1", "phi_2"]),
            fine("eta", 1.0, max=100.0, tooltip="Stochastic strength"),
            fine("s_noise", 1.0, max=100.0, tooltip="SDE noise multiplier"),
            fine("r", 0.5, min=0.01, max=1.0, tooltip="Relative step size for the intermediate stage (c2 node)")],
            description=SEEDS2_DESCRIPTION)

    @classmethod
    def execute(cls, solver_type: str, eta: float, s_noise: float, r: float) -> io.NodeOutput:
        return _sampler("seeds_2", solver_type=solver_type, eta=eta, s_noise=s_noise, r=r)


NODES = [KSamplerSelect, SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerLMS, SamplerDPMPP_3M_SDE,
         SamplerDPMPP_2M_SDE, SamplerDPMPP_SDE, SamplerDPMPP_2S_Ancestral, SamplerDPMAdaptative, SamplerER_SDE,
         SamplerSASolver, SamplerSEEDS2]
