"""LATENT_OPERATION nodes of ComfyUI's ``comfy_extras.nodes_latent`` (v3, experimental in ComfyUI 0.8.0).

A LATENT_OPERATION value is a callable ``op(latent=Tensor[B, C, h, w], **kwargs) -> Tensor``, as in ComfyUI:
LatentOperationTonemapReinhard and LatentOperationSharpen make one, LatentApplyOperation runs one on a LATENT,
LatentApplyOperationCFG on every sampling step's guidance (``cond - uncond``) through the MODEL's pre-CFG
functions. torch is imported inside the bodies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from isolate.api import io

_MODULE = "comfy_extras.nodes_latent"
_CATEGORY = "latent/advanced/operations"
LatentOp = Callable[..., Any]


def _schema(node_id: str, inputs: list[Any], outputs: list[Any]) -> io.Schema:
    return io.Schema(node_id=node_id, category=_CATEGORY, inputs=inputs, outputs=outputs, is_experimental=True,
                     python_module=_MODULE)


def tonemap_reinhard(multiplier: float) -> LatentOp:
    """Reinhard on the per-pixel channel-vector length m: with top = (mean(m) + 5·std(m)) · multiplier (per
    item; std unbiased), m becomes top · (m/top) / (m/top + 1); directions are kept (m carries +1e-10)."""
    import torch

    def op(latent: Any, **kwargs: Any) -> Any:
        magnitude = (torch.linalg.vector_norm(latent, dim=1) + 0.0000000001)[:, None]
        normalized = latent / magnitude
        dims = list(range(1, magnitude.ndim))
        mean = torch.mean(magnitude, dim=dims, keepdim=True)
        std = torch.std(magnitude, dim=dims, keepdim=True)
        top = (std * 5 + mean) * multiplier
        scaled = magnitude * (1.0 / top)
        return normalized * (scaled / (scaled + 1.0) * top)

    return op


def gaussian_kernel(size: int, sigma: float, device: Any = None) -> Any:
    """[size, size] Gaussian over a grid spanning -1..1 on both axes, normalised to sum 1."""
    import torch

    axis = torch.linspace(-1, 1, size, device=device)
    x, y = torch.meshgrid(axis, axis, indexing="ij")
    d = torch.sqrt(x * x + y * y)  # squared again below, as ComfyUI computes it (same rounding)
    g = torch.exp(-(d * d) / (2.0 * sigma * sigma))
    return g / g.sum()


class LatentTooSmall(ValueError):
    """A latent smaller than the sharpen radius (the reflect padding needs radius < height and width)."""


def sharpen(radius: int, sigma: float, alpha: float) -> LatentOp:
    """Unsharp mask on the unit channel vectors: kernel = -10·alpha·Gaussian(2r+1, sigma) with its centre raised
    so it sums to 1, convolved per channel over a reflect-padded copy (then zero padding of r, cropped back);
    the result is scaled back by the per-pixel length (+1e-6)."""
    import torch

    def op(latent: Any, **kwargs: Any) -> Any:
        if min(latent.shape[-2:]) <= radius:
            raise LatentTooSmall(f"a sharpen radius of {radius} needs a latent larger than {radius}x{radius}; "
                                 f"this one is {latent.shape[-1]}x{latent.shape[-2]}")
        luminance = (torch.linalg.vector_norm(latent, dim=1) + 1e-6)[:, None]
        normalized = latent / luminance
        channels = latent.shape[1]
        size = radius * 2 + 1
        kernel = gaussian_kernel(size, sigma, device=luminance.device) * (alpha * -10)
        center = size // 2
        kernel[center, center] = kernel[center, center] - kernel.sum() + 1.0
        padded = torch.nn.functional.pad(normalized, (radius, radius, radius, radius), "reflect")
        weight = kernel.to(normalized.dtype).repeat(channels, 1, 1).unsqueeze(1)
        out = torch.nn.functional.conv2d(padded, weight, padding=size // 2, groups=channels)
        return luminance * out[:, :, radius:-radius, radius:-radius]

    return op


class LatentApplyOperation(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentApplyOperation", [io.Latent.Input("samples"), io.LatentOperation.Input("operation")],
                       [io.Latent.Output()])

    @classmethod
    def execute(cls, samples: dict[str, Any], operation: LatentOp) -> io.NodeOutput:
        out = samples.copy()
        out["samples"] = operation(latent=samples["samples"])
        return io.NodeOutput(out)


def cfg_operation(operation: LatentOp) -> Callable[[dict[str, Any]], list[Any]]:
    """A pre-CFG function applying ``operation`` to the guidance: cond becomes ``op(cond - uncond) + uncond``
    (just ``op(cond)`` when there is only the cond)."""

    def pre_cfg(args: dict[str, Any]) -> list[Any]:
        conds_out = list(args["conds_out"])
        if len(conds_out) == 2:
            conds_out[0] = operation(latent=conds_out[0] - conds_out[1]) + conds_out[1]
        else:
            conds_out[0] = operation(latent=conds_out[0])
        return conds_out

    return pre_cfg


class LatentApplyOperationCFG(io.ComfyNode):
    """A copy of the MODEL (sharing its weights) whose sampling runs ``operation`` on the guidance each step."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentApplyOperationCFG", [io.Model.Input("model"), io.LatentOperation.Input("operation")],
                       [io.Model.Output()])

    @classmethod
    def execute(cls, model: Any, operation: LatentOp) -> io.NodeOutput:
        functions = (*getattr(model, "pre_cfg_functions", ()), cfg_operation(operation))
        return io.NodeOutput(dataclasses.replace(model, pre_cfg_functions=functions))


class LatentOperationTonemapReinhard(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentOperationTonemapReinhard",
                       [io.Float.Input("multiplier", default=1.0, min=0.0, max=100.0, step=0.01)],
                       [io.LatentOperation.Output()])

    @classmethod
    def execute(cls, multiplier: float) -> io.NodeOutput:
        return io.NodeOutput(tonemap_reinhard(multiplier))


class LatentOperationSharpen(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentOperationSharpen", [
            io.Int.Input("sharpen_radius", default=9, min=1, max=31, step=1),
            io.Float.Input("sigma", default=1.0, min=0.1, max=10.0, step=0.1),
            io.Float.Input("alpha", default=0.1, min=0.0, max=5.0, step=0.01)], [io.LatentOperation.Output()])

    @classmethod
    def execute(cls, sharpen_radius: int, sigma: float, alpha: float) -> io.NodeOutput:
        return io.NodeOutput(sharpen(sharpen_radius, sigma, alpha))


NODES: list[type[io.ComfyNode]] = [LatentApplyOperation, LatentApplyOperationCFG, LatentOperationTonemapReinhard,
                                   LatentOperationSharpen]
