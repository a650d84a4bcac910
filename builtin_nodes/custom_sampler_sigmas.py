"""The SIGMAS nodes of ComfyUI's comfy_extras.nodes_custom_sampler: schedulers (BasicScheduler over the
KSampler scheduler table, and the parametric ones) and operations on sigmas, thin layers over
host/models/sampling (schedulers.py, sigma_ops.py). torch is imported when a node runs, never at load."""

from __future__ import annotations

from typing import Any

from isolate.api import io

MODULE = "comfy_extras.nodes_custom_sampler"
SCHEDULERS = "sampling/custom_sampling/schedulers"
SIGMAS = "sampling/custom_sampling/sigmas"
SIGMA_MAX, SIGMA_MIN = 14.614642, 0.0291675


def schema(node_id: str, category: str, inputs: list[Any], outputs: list[Any], **kw: Any) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, python_module=MODULE, inputs=inputs, outputs=outputs, **kw)


def steps_input(default: int = 20, max: int = 10000) -> io.Int.Input:
    return io.Int.Input("steps", default=default, min=1, max=max)


def fine(id: str, default: float, min: float = 0.0, max: float = 5000.0, step: float = 0.01,
         tooltip: str | None = None) -> io.Float.Input:
    """A FLOAT widget ComfyUI shows unrounded (``round: False``)."""
    return io.Float.Input(id, default=default, min=min, max=max, step=step, round=False, tooltip=tooltip)


def _sigma_range() -> list[Any]:
    return [fine("sigma_max", SIGMA_MAX), fine("sigma_min", SIGMA_MIN)]


def _ms(model: Any) -> Any:
    from host.models.sampling.custom import model_sampling

    return model_sampling(model)


class BasicScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        from host.models.sampling.names import SCHEDULER_NAMES

        return schema("BasicScheduler", SCHEDULERS, [
            io.Model.Input("model"), io.Combo.Input("scheduler", options=list(SCHEDULER_NAMES)), steps_input(),
            io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01)], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, model: Any, scheduler: str, steps: int, denoise: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import basic_scheduler

        return io.NodeOutput(basic_scheduler(_ms(model), scheduler, steps, denoise))


class KarrasScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("KarrasScheduler", SCHEDULERS, [steps_input(), *_sigma_range(), fine("rho", 7.0, max=100.0)],
                      [io.Sigmas.Output()])

    @classmethod
    def execute(cls, steps: int, sigma_max: float, sigma_min: float, rho: float) -> io.NodeOutput:
        from host.models.sampling.errors import InvalidSigmas
        from host.models.sampling.schedulers import get_sigmas_karras

        if rho <= 0:
            raise InvalidSigmas(f"KarrasScheduler needs rho > 0, got {rho}")
        return io.NodeOutput(get_sigmas_karras(steps, sigma_min, sigma_max, rho))


class ExponentialScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("ExponentialScheduler", SCHEDULERS, [steps_input(), *_sigma_range()], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, steps: int, sigma_max: float, sigma_min: float) -> io.NodeOutput:
        from host.models.sampling.schedulers import get_sigmas_exponential

        return io.NodeOutput(get_sigmas_exponential(steps, sigma_min, sigma_max))


class PolyexponentialScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("PolyexponentialScheduler", SCHEDULERS,
                      [steps_input(), *_sigma_range(), fine("rho", 1.0, max=100.0)], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, steps: int, sigma_max: float, sigma_min: float, rho: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import get_sigmas_polyexponential

        return io.NodeOutput(get_sigmas_polyexponential(steps, sigma_min, sigma_max, rho))


class LaplaceScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("LaplaceScheduler", SCHEDULERS, [
            steps_input(), *_sigma_range(), fine("mu", 0.0, min=-10.0, max=10.0, step=0.1),
            fine("beta", 0.5, max=10.0, step=0.1)], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, steps: int, sigma_max: float, sigma_min: float, mu: float, beta: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import get_sigmas_laplace

        return io.NodeOutput(get_sigmas_laplace(steps, sigma_min, sigma_max, mu, beta))


class VPScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("VPScheduler", SCHEDULERS, [
            steps_input(), fine("beta_d", 19.9), fine("beta_min", 0.1), fine("eps_s", 0.001, max=1.0, step=0.0001)],
            [io.Sigmas.Output()])

    @classmethod
    def execute(cls, steps: int, beta_d: float, beta_min: float, eps_s: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import get_sigmas_vp

        return io.NodeOutput(get_sigmas_vp(steps, beta_d, beta_min, eps_s))


class BetaSamplingScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("BetaSamplingScheduler", SCHEDULERS, [
            io.Model.Input("model"), steps_input(), fine("alpha", 0.6, max=50.0), fine("beta", 0.6, max=50.0)],
            [io.Sigmas.Output()])

    @classmethod
    def execute(cls, model: Any, steps: int, alpha: float, beta: float) -> io.NodeOutput:
        from host.models.sampling.schedulers import beta as beta_schedule

        return io.NodeOutput(beta_schedule(_ms(model), steps, alpha, beta))


class SDTurboScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SDTurboScheduler", SCHEDULERS, [
            io.Model.Input("model"), steps_input(default=1, max=10),
            io.Float.Input("denoise", default=1.0, min=0, max=1.0, step=0.01)], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, model: Any, steps: int, denoise: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import sd_turbo

        return io.NodeOutput(sd_turbo(_ms(model), steps, denoise))


class ManualSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("ManualSigmas", "_for_testing/custom_sampling",
                      [io.String.Input("sigmas", default="1, 0.5", multiline=False)], [io.Sigmas.Output()],
                      is_experimental=True)

    @classmethod
    def execute(cls, sigmas: str) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import parse_manual

        return io.NodeOutput(parse_manual(sigmas))


def _sigmas(value: Any) -> Any:
    from host.models.sampling.sigma_ops import check_sigmas

    return check_sigmas(value)


def _pair() -> list[Any]:
    return [io.Sigmas.Output(display_name="high_sigmas"), io.Sigmas.Output(display_name="low_sigmas")]


class SplitSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SplitSigmas", SIGMAS, [io.Sigmas.Input("sigmas"),
                                              io.Int.Input("step", default=0, min=0, max=10000)], _pair())

    @classmethod
    def execute(cls, sigmas: Any, step: int) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import split

        return io.NodeOutput(*split(_sigmas(sigmas), step))


class SplitSigmasDenoise(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SplitSigmasDenoise", SIGMAS, [
            io.Sigmas.Input("sigmas"), io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01)], _pair())

    @classmethod
    def execute(cls, sigmas: Any, denoise: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import split_denoise

        return io.NodeOutput(*split_denoise(_sigmas(sigmas), denoise))


class FlipSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("FlipSigmas", SIGMAS, [io.Sigmas.Input("sigmas")], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, sigmas: Any) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import flip

        return io.NodeOutput(flip(_sigmas(sigmas)))


class SetFirstSigma(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SetFirstSigma", SIGMAS, [
            io.Sigmas.Input("sigmas"), fine("sigma", 136.0, max=20000.0, step=0.001)], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, sigmas: Any, sigma: float) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import set_first

        return io.NodeOutput(set_first(_sigmas(sigmas), sigma))


class ExtendIntermediateSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("ExtendIntermediateSigmas", SIGMAS, [
            io.Sigmas.Input("sigmas"), io.Int.Input("steps", default=2, min=1, max=100),
            fine("start_at_sigma", -1.0, min=-1.0, max=20000.0), fine("end_at_sigma", 12.0, max=20000.0),
            io.Combo.Input("spacing", options=["linear", "cosine", "sine"])], [io.Sigmas.Output()])

    @classmethod
    def execute(cls, sigmas: Any, steps: int, start_at_sigma: float, end_at_sigma: float,
                spacing: str) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import extend_intermediate

        return io.NodeOutput(extend_intermediate(_sigmas(sigmas), steps, start_at_sigma, end_at_sigma, spacing))


class SamplingPercentToSigma(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SamplingPercentToSigma", SIGMAS, [
            io.Model.Input("model"), io.Float.Input("sampling_percent", default=0.0, min=0.0, max=1.0, step=0.0001),
            io.Boolean.Input("return_actual_sigma", default=False, tooltip=(
                "Return the actual sigma value instead of the value used for interval checks.\n"
                "This only affects results at 0.0 and 1.0."))],
            [io.Float.Output(display_name="sigma_value")])

    @classmethod
    def execute(cls, model: Any, sampling_percent: float, return_actual_sigma: bool) -> io.NodeOutput:
        from host.models.sampling.sigma_ops import percent_to_sigma

        return io.NodeOutput(percent_to_sigma(_ms(model), sampling_percent, return_actual_sigma))


NODES = [BasicScheduler, KarrasScheduler, ExponentialScheduler, PolyexponentialScheduler, LaplaceScheduler,
         VPScheduler, BetaSamplingScheduler, SDTurboScheduler, ManualSigmas, SplitSigmas, SplitSigmasDenoise,
         FlipSigmas, SetFirstSigma, ExtendIntermediateSigmas, SamplingPercentToSigma]
