"""Latent arithmetic and batch nodes of ComfyUI's ``comfy_extras.nodes_latent`` (v3, as in ComfyUI 0.8.0).

LATENT is a dict ``{"samples": Tensor[B, C, (T,) h, w], "noise_mask"?, "batch_index"?}``; each node copies the
dict and replaces what it changes. Where two latents meet, the second is fitted to the first
(``tensor_fit.reshape_latent_to``: centre crop + bilinear resize, then the batch repeated or cut).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from builtin_nodes.tensor_fit import repeat_to_batch, reshape_latent_to
from isolate.api import io

MAX_RESOLUTION = 16384
_MODULE = "comfy_extras.nodes_latent"
_log = logging.getLogger(__name__)


def _schema(node_id: str, inputs: list[Any], category: str = "latent/advanced", **extra: Any) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, inputs=inputs, outputs=[io.Latent.Output()],
                     python_module=_MODULE, **extra)


def _pair() -> list[Any]:
    return [io.Latent.Input("samples1"), io.Latent.Input("samples2")]


def _with(latent: dict[str, Any], samples: Any) -> dict[str, Any]:
    out = latent.copy()
    out["samples"] = samples
    return out


class LatentAdd(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentAdd", _pair())

    @classmethod
    def execute(cls, samples1: dict[str, Any], samples2: dict[str, Any]) -> io.NodeOutput:
        s1 = samples1["samples"]
        return io.NodeOutput(_with(samples1, s1 + reshape_latent_to(s1.shape, samples2["samples"])))


class LatentSubtract(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentSubtract", _pair())

    @classmethod
    def execute(cls, samples1: dict[str, Any], samples2: dict[str, Any]) -> io.NodeOutput:
        s1 = samples1["samples"]
        return io.NodeOutput(_with(samples1, s1 - reshape_latent_to(s1.shape, samples2["samples"])))


class LatentMultiply(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentMultiply", [io.Latent.Input("samples"),
                                          io.Float.Input("multiplier", default=1.0, min=-10.0, max=10.0, step=0.01)])

    @classmethod
    def execute(cls, samples: dict[str, Any], multiplier: float) -> io.NodeOutput:
        return io.NodeOutput(_with(samples, samples["samples"] * multiplier))


class LatentInterpolate(io.ComfyNode):
    """Per pixel, the channel vectors' directions mixed by ``ratio`` (samples1's weight) and renormalised, times
    their lengths mixed the same way; a zero vector's direction counts as zero."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentInterpolate", [*_pair(),
                                             io.Float.Input("ratio", default=1.0, min=0.0, max=1.0, step=0.01)])

    @classmethod
    def execute(cls, samples1: dict[str, Any], samples2: dict[str, Any], ratio: float) -> io.NodeOutput:
        import torch

        s1 = samples1["samples"]
        s2 = reshape_latent_to(s1.shape, samples2["samples"])
        m1 = torch.linalg.vector_norm(s1, dim=1, keepdim=True)
        m2 = torch.linalg.vector_norm(s2, dim=1, keepdim=True)
        t = torch.nan_to_num(s1 / m1) * ratio + torch.nan_to_num(s2 / m2) * (1.0 - ratio)
        direction = torch.nan_to_num(t / torch.linalg.vector_norm(t, dim=1, keepdim=True))
        return io.NodeOutput(_with(samples1, direction * (m1 * ratio + m2 * (1.0 - ratio))))


_AXES = {"x": 1, "y": 2, "t": 3}  # counted from the last dim


class LatentConcat(io.ComfyNode):
    """samples2 (batch fitted to samples1's) appended along width (x), height (y) or frames (t); "-" puts it
    first."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentConcat", [*_pair(), io.Combo.Input("dim", options=["x", "-x", "y", "-y", "t", "-t"])])

    @classmethod
    def execute(cls, samples1: dict[str, Any], samples2: dict[str, Any], dim: str) -> io.NodeOutput:
        import torch

        s1 = samples1["samples"]
        s2 = repeat_to_batch(samples2["samples"], s1.shape[0])
        parts = (s2, s1) if dim.startswith("-") else (s1, s2)
        return io.NodeOutput(_with(samples1, torch.cat(parts, dim=-_AXES[dim[-1]])))


class LatentCut(io.ComfyNode):
    """``amount`` slices from ``index`` along x, y or t; a negative index counts from the end. Both are clamped
    to the latent (an index past the end keeps the last slice)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentCut", [
            io.Latent.Input("samples"), io.Combo.Input("dim", options=["x", "y", "t"]),
            io.Int.Input("index", default=0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1),
            io.Int.Input("amount", default=1, min=1, max=MAX_RESOLUTION, step=1)])

    @classmethod
    def execute(cls, samples: dict[str, Any], dim: str, index: int, amount: int) -> io.NodeOutput:
        import torch

        s = samples["samples"]
        axis = s.ndim - _AXES[dim]
        size = s.shape[axis]
        if index >= 0:
            index = min(index, size - 1)
            amount = min(size - index, amount)
        else:
            index = max(index, -size)
            amount = min(-index, amount)
        return io.NodeOutput(_with(samples, torch.narrow(s, axis, index, amount)))


class LatentCutToBatch(io.ComfyNode):
    """The latent cut into slices of ``slice_size`` along x, y or t, stacked into the batch (the remainder that
    does not fill a slice is dropped; a slice larger than the axis takes the whole axis). An axis that falls on
    the batch or channel dim (t of a 4-D latent) leaves the latent unchanged."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentCutToBatch", [
            io.Latent.Input("samples"), io.Combo.Input("dim", options=["t", "x", "y"]),
            io.Int.Input("slice_size", default=1, min=1, max=MAX_RESOLUTION, step=1)])

    @classmethod
    def execute(cls, samples: dict[str, Any], dim: str, slice_size: int) -> io.NodeOutput:
        s1 = samples["samples"]
        axis = s1.ndim - _AXES[dim]
        if axis < 2:
            return io.NodeOutput(samples)
        s = s1.movedim(axis, 1)
        if s.shape[1] < slice_size:
            slice_size = s.shape[1]
        elif s.shape[1] % slice_size != 0:
            s = s[:, :math.floor(s.shape[1] / slice_size) * slice_size]
        cut = s.reshape([-1, slice_size, *s.shape[2:]]).movedim(1, axis)
        return io.NodeOutput(_with(samples, cut))


class LatentBatch(io.ComfyNode):
    """samples2 (resized to samples1's size, batch kept) after samples1; the batch indices are concatenated
    (each side's own, or 0..B-1)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentBatch", _pair(), category="latent/batch", is_deprecated=True)

    @classmethod
    def execute(cls, samples1: dict[str, Any], samples2: dict[str, Any]) -> io.NodeOutput:
        import torch

        s1 = samples1["samples"]
        s2 = reshape_latent_to(s1.shape, samples2["samples"], repeat_batch=False)
        out = _with(samples1, torch.cat((s1, s2), dim=0))
        out["batch_index"] = (list(samples1.get("batch_index", range(s1.shape[0])))
                              + list(samples2.get("batch_index", range(s2.shape[0]))))
        return io.NodeOutput(out)


class LatentBatchSeedBehavior(io.ComfyNode):
    """"random" drops ``batch_index`` (each item its own noise); "fixed" gives every item the first index."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("LatentBatchSeedBehavior", [
            io.Latent.Input("samples"), io.Combo.Input("seed_behavior", options=["random", "fixed"], default="fixed")])

    @classmethod
    def execute(cls, samples: dict[str, Any], seed_behavior: str) -> io.NodeOutput:
        out = samples.copy()
        if seed_behavior == "random":
            out.pop("batch_index", None)
        elif seed_behavior == "fixed":
            first = out.get("batch_index", [0])[0]
            out["batch_index"] = [first] * samples["samples"].shape[0]
        return io.NodeOutput(out)


class ReplaceVideoLatentFrames(io.ComfyNode):
    """destination's frames (dim 2) from ``index`` replaced by source's; a negative index counts from the end.
    When the source does not fit there (or a negative index reaches before the first frame), a warning is
    logged and the destination returned unchanged. The result carries the source's other keys, as ComfyUI's
    does."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return _schema("ReplaceVideoLatentFrames", [
            io.Latent.Input("destination", tooltip="The destination latent where frames will be replaced."),
            io.Int.Input("index", default=0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1,
                         tooltip="The starting latent frame index in the destination latent where the source "
                                 "latent frames will be placed. Negative values count from the end."),
            io.Latent.Input("source", optional=True,
                            tooltip="The source latent providing frames to insert into the destination latent. "
                                    "If not provided, the destination latent is returned unchanged.")],
            category="latent/batch")

    @classmethod
    def execute(cls, destination: dict[str, Any], index: int, source: dict[str, Any] | None = None) -> io.NodeOutput:
        if source is None:
            return io.NodeOutput(destination)
        frames = destination["samples"].shape[2]
        count = source["samples"].shape[2]
        if index < 0:
            index += frames
        if index < 0 or index + count > frames:
            _log.warning("ReplaceVideoLatentFrames: %d source frames do not fit in %d destination frames at "
                         "index %d; the destination is returned unchanged", count, frames, index)
            return io.NodeOutput(destination)
        samples = destination["samples"].clone()
        samples[:, :, index:index + count] = source["samples"]
        return io.NodeOutput(_with(source, samples))


NODES: list[type[io.ComfyNode]] = [LatentAdd, LatentSubtract, LatentMultiply, LatentInterpolate, LatentConcat,
                                   LatentCut, LatentCutToBatch, LatentBatch, LatentBatchSeedBehavior,
                                   ReplaceVideoLatentFrames]
