"""RebatchImages and RebatchLatents (ComfyUI's comfy_extras.nodes_rebatch).

Both take their inputs as lists (every batch reaching the node in one call) and output a list: the incoming
batches laid end to end and cut into batches of ``batch_size``, the last one possibly shorter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from isolate.api import io

_MODULE = "comfy_extras.nodes_rebatch"


def _batch_size_input() -> io.Int.Input:
    return io.Int.Input("batch_size", default=1, min=1, max=4096)


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) else values


class RebatchImages(io.ComfyNode):
    """Every image of every incoming IMAGE batch, regrouped into batches of ``batch_size`` (in order)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="RebatchImages", display_name="Rebatch Images", category="image/batch", python_module=_MODULE,
            is_input_list=True, inputs=[io.Image.Input("images"), _batch_size_input()],
            outputs=[io.Image.Output(is_output_list=True)])

    @classmethod
    def execute(cls, images: list[Any], batch_size: list[int]) -> io.NodeOutput:
        import torch

        size = int(_first(batch_size))
        singles = [batch[i:i + 1] for batch in images for i in range(batch.shape[0])]
        return io.NodeOutput([torch.cat(singles[i:i + size], dim=0) for i in range(0, len(singles), size)])


def _entries(latents: list[dict[str, Any]]) -> Iterator[tuple[Any, Any, list[int]]]:
    """(samples, noise_mask or None, batch_index) per incoming latent; a latent without ``batch_index``
    numbers its samples on from the samples seen before it."""
    seen = 0
    for latent in latents:
        samples = latent["samples"]
        index = list(latent["batch_index"]) if "batch_index" in latent else list(
            range(seen, seen + samples.shape[0]))
        seen += len(index)
        yield samples, latent.get("noise_mask"), index


def _runs(latents: list[dict[str, Any]]) -> list[list[tuple[Any, Any, list[int]]]]:
    """The incoming latents grouped into runs of consecutive ones with the same spatial size."""
    runs: list[list[tuple[Any, Any, list[int]]]] = []
    for entry in _entries(latents):
        if runs and tuple(runs[-1][-1][0].shape[-2:]) == tuple(entry[0].shape[-2:]):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs


def _fit_mask(mask: Any, count: int, size: tuple[int, int]) -> Any:
    """A noise mask as [count, 1, h, w] at ``size``: resized (bilinear) and its batch repeated as needed."""
    import torch

    mask = mask.reshape(-1, 1, mask.shape[-2], mask.shape[-1]).float()
    if tuple(mask.shape[-2:]) != size:
        mask = torch.nn.functional.interpolate(mask, size=size, mode="bilinear")
    if mask.shape[0] < count:
        mask = mask.repeat((count - 1) // mask.shape[0] + 1, 1, 1, 1)
    return mask[:count]


def _run_masks(run: list[tuple[Any, Any, list[int]]]) -> Any:
    """The run's noise masks laid end to end (ones where a latent has none), or None when none has one."""
    import torch

    given = [mask for _, mask, _ in run if mask is not None]
    if not given:
        return None
    size = (given[0].shape[-2], given[0].shape[-1])
    parts = [torch.ones((s.shape[0], 1, *size), device=s.device) if m is None else _fit_mask(m, s.shape[0], size)
             for s, m, _ in run]
    return torch.cat([p.to(parts[0].device) for p in parts], dim=0)


class RebatchLatents(io.ComfyNode):
    """Incoming LATENT batches regrouped into batches of ``batch_size``; a change of spatial size always
    starts a new batch. Each output carries ``samples``, ``batch_index`` and, where some of its samples are
    masked, ``noise_mask`` ([B, 1, h, w]); other latent keys are not carried over."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="RebatchLatents", display_name="Rebatch Latents", category="latent/batch",
            python_module=_MODULE, is_input_list=True, inputs=[io.Latent.Input("latents"), _batch_size_input()],
            outputs=[io.Latent.Output(is_output_list=True)])

    @classmethod
    def execute(cls, latents: list[dict[str, Any]], batch_size: list[int]) -> io.NodeOutput:
        import torch

        size = int(_first(batch_size))
        out: list[dict[str, Any]] = []
        for run in _runs(latents):
            samples = torch.cat([s for s, _, _ in run], dim=0)
            index = [i for _, _, idx in run for i in idx]
            masks = _run_masks(run)
            for start in range(0, samples.shape[0], size):
                latent: dict[str, Any] = {"samples": samples[start:start + size],
                                          "batch_index": index[start:start + size]}
                if masks is not None:
                    mask = masks[start:start + size]
                    if mask.mean() != 1.0:
                        latent["noise_mask"] = mask
                out.append(latent)
        return io.NodeOutput(out)


NODES = [RebatchImages, RebatchLatents]
