"""The GUIDER, NOISE and sampling nodes of ComfyUI's comfy_extras.nodes_custom_sampler: CFGGuider,
DualCFGGuider, BasicGuider, RandomNoise, DisableNoise, AddNoise, SamplerCustom and SamplerCustomAdvanced, over
host/models/sampling/custom.py. Sampling reports progress per step (with a latent preview per
``--preview-method``) and stops on interrupt, as KSampler does."""

from __future__ import annotations

from typing import Any

from builtin_nodes.custom_sampler_sigmas import schema
from builtin_nodes.node_env import manager
from builtin_nodes.previews import previewer
from builtin_nodes.sampler_nodes import SEED_MAX
from isolate.api import io

GUIDERS = "sampling/custom_sampling/guiders"
NOISE = "sampling/custom_sampling/noise"


def _cfg(id: str = "cfg") -> io.Float.Input:
    return io.Float.Input(id, default=8.0, min=0.0, max=100.0, step=0.1, round=0.01)


def _seed(id: str = "noise_seed") -> io.Int.Input:
    return io.Int.Input(id, default=0, min=0, max=SEED_MAX, control_after_generate=True)


def _model(model: Any) -> Any:
    from host.models.sampling.custom import check_model

    return check_model(model)


class CFGGuider(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("CFGGuider", GUIDERS, [io.Model.Input("model"), io.Conditioning.Input("positive"),
                                             io.Conditioning.Input("negative"), _cfg()], [io.Guider.Output()])

    @classmethod
    def execute(cls, model: Any, positive: Any, negative: Any, cfg: float) -> io.NodeOutput:
        from host.models.sampling.custom import CFGGuider as Guider

        return io.NodeOutput(Guider(_model(model), positive, negative, cfg))


class DualCFGGuider(io.ComfyNode):
    """Two conditionings against a negative: cfg_conds pulls from cond2 towards cond1, cfg_cond2_negative from
    the negative towards cond2 (``regular`` adds the two, ``nested`` guides the second by the first)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("DualCFGGuider", GUIDERS, [
            io.Model.Input("model"), io.Conditioning.Input("cond1"), io.Conditioning.Input("cond2"),
            io.Conditioning.Input("negative"), _cfg("cfg_conds"), _cfg("cfg_cond2_negative"),
            io.Combo.Input("style", options=["regular", "nested"])], [io.Guider.Output()])

    @classmethod
    def execute(cls, model: Any, cond1: Any, cond2: Any, negative: Any, cfg_conds: float,
                cfg_cond2_negative: float, style: str) -> io.NodeOutput:
        from host.models.sampling.custom import DualCFGGuider as Guider

        return io.NodeOutput(Guider(_model(model), cond1, negative, cfg_conds, middle=cond2, cfg2=cfg_cond2_negative,
                                    nested=style == "nested"))


class BasicGuider(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("BasicGuider", GUIDERS, [io.Model.Input("model"), io.Conditioning.Input("conditioning")],
                      [io.Guider.Output()])

    @classmethod
    def execute(cls, model: Any, conditioning: Any) -> io.NodeOutput:
        from host.models.sampling.custom import basic_guider

        return io.NodeOutput(basic_guider(_model(model), conditioning))


class RandomNoise(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("RandomNoise", NOISE, [_seed()], [io.Noise.Output()])

    @classmethod
    def execute(cls, noise_seed: int) -> io.NodeOutput:
        from host.models.sampling.custom import RandomNoise as Noise

        return io.NodeOutput(Noise(noise_seed))


class DisableNoise(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("DisableNoise", NOISE, [], [io.Noise.Output()])

    @classmethod
    def execute(cls) -> io.NodeOutput:
        from host.models.sampling.custom import DisableNoise as Noise

        return io.NodeOutput(Noise())


class AddNoise(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("AddNoise", "_for_testing/custom_sampling/noise", [
            io.Model.Input("model"), io.Noise.Input("noise"), io.Sigmas.Input("sigmas"),
            io.Latent.Input("latent_image")], [io.Latent.Output()], is_experimental=True)

    @classmethod
    def execute(cls, model: Any, noise: Any, sigmas: Any, latent_image: dict[str, Any]) -> io.NodeOutput:
        from host.models.sampling.custom import add_noise

        out = latent_image.copy()
        out["samples"] = add_noise(model, noise, sigmas, latent_image)
        return io.NodeOutput(out)


def _outputs() -> list[Any]:
    return [io.Latent.Output(display_name="output"), io.Latent.Output(display_name="denoised_output")]


def run_custom(guider: Any, noise: Any, sampler: Any, sigmas: Any, latent: dict[str, Any]) -> io.NodeOutput:
    """Sample under the running prompt's model manager; (output, denoised_output) LATENT dicts."""
    from host.models.sampling import SamplingInterrupted
    from host.models.sampling.custom import CFGGuider as Guider
    from host.models.sampling.custom import check_kind, sample_custom
    from isolate.context import InterruptProcessingException, interrupt_requested, report_progress

    model = check_kind(guider, Guider, "guider", "a GUIDER (CFGGuider, DualCFGGuider or BasicGuider)").model
    models = manager()
    preview = previewer(models.preview_method, model)

    def callback(step: int, total: int, x0: Any) -> None:
        report_progress(step + 1, total, preview=preview(x0) if preview is not None and x0 is not None else None)

    models.use(model)
    try:
        result = sample_custom(guider, noise, sampler, sigmas, latent, callback=callback,
                               interrupted=interrupt_requested, device=models.device)
    except SamplingInterrupted as exc:
        raise InterruptProcessingException() from exc
    finally:
        models.done(model)
    out = latent.copy()
    out.pop("downscale_ratio_spacial", None)
    out["samples"] = result.samples
    denoised = out
    if result.x0 is not None:
        denoised = out.copy()
        denoised["samples"] = result.x0
    return io.NodeOutput(out, denoised)


class SamplerCustom(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SamplerCustom", "sampling/custom_sampling", [
            io.Model.Input("model"), io.Boolean.Input("add_noise", default=True), _seed(), _cfg(),
            io.Conditioning.Input("positive"), io.Conditioning.Input("negative"), io.Sampler.Input("sampler"),
            io.Sigmas.Input("sigmas"), io.Latent.Input("latent_image")], _outputs())

    @classmethod
    def execute(cls, model: Any, add_noise: bool, noise_seed: int, cfg: float, positive: Any, negative: Any,
                sampler: Any, sigmas: Any, latent_image: dict[str, Any]) -> io.NodeOutput:
        from host.models.sampling.custom import CFGGuider as Guider
        from host.models.sampling.custom import DisableNoise, RandomNoise

        noise = RandomNoise(noise_seed) if add_noise else DisableNoise(noise_seed)
        return run_custom(Guider(_model(model), positive, negative, cfg), noise, sampler, sigmas, latent_image)


class SamplerCustomAdvanced(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema("SamplerCustomAdvanced", "sampling/custom_sampling", [
            io.Noise.Input("noise"), io.Guider.Input("guider"), io.Sampler.Input("sampler"),
            io.Sigmas.Input("sigmas"), io.Latent.Input("latent_image")], _outputs())

    @classmethod
    def execute(cls, noise: Any, guider: Any, sampler: Any, sigmas: Any,
                latent_image: dict[str, Any]) -> io.NodeOutput:
        return run_custom(guider, noise, sampler, sigmas, latent_image)


NODES = [CFGGuider, DualCFGGuider, BasicGuider, RandomNoise, DisableNoise, AddNoise, SamplerCustom,
         SamplerCustomAdvanced]
