"""ComfyUI's ``comfy.utils`` for node packs: ``ProgressBar`` (progress and interrupts of the running node),
checkpoint loading/saving, ``common_upscale`` and a few tensor helpers. torch is imported inside the functions.

``ProgressBar`` reports through ``isolate.context.report_progress`` (ComfyUI's legacy ``progress`` message) to the
node running in this context, or, from a thread the node started, to the node that created the bar; outside
execution it only counts. Every update first checks for an interrupt and raises
``comfy.model_management.InterruptProcessingException``, as in ComfyUI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from isolate.context import CURRENT_NODE, current_node, report_progress

#: read by samplers and packs to show console progress bars (no effect on ``ProgressBar`` reporting)
PROGRESS_BAR_ENABLED = True
#: a replacement for the progress reporting: ``hook(value, total, preview, node_id=...)`` (None: the node's)
PROGRESS_BAR_HOOK: Callable[..., Any] | None = None


def set_progress_bar_enabled(enabled: bool) -> None:
    global PROGRESS_BAR_ENABLED
    PROGRESS_BAR_ENABLED = enabled


def set_progress_bar_global_hook(function: Callable[..., Any] | None) -> None:
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


class ProgressBar:
    """Progress of the running node: ``update(n)`` adds, ``update_absolute(value, total, preview)`` sets."""

    def __init__(self, total: float, node_id: str | None = None) -> None:
        self.total = total
        self.current = 0
        self.node_id = node_id
        self.hook = PROGRESS_BAR_HOOK
        self._ctx = current_node()

    def update_absolute(self, value: float, total: float | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        if value > self.total:
            value = self.total
        self.current = value
        if self.hook is not None:
            self.hook(self.current, self.total, preview, node_id=self.node_id)
            return
        ctx = current_node()
        token = None
        if ctx is None:
            if self._ctx is None:
                return
            token = CURRENT_NODE.set(self._ctx)  # a thread of the node: report as the node that made the bar
        try:
            from comfy.model_management import throw_exception_if_processing_interrupted

            throw_exception_if_processing_interrupted()
            report_progress(self.current, self.total, self.node_id, preview, legacy=True)
        finally:
            if token is not None:
                CURRENT_NODE.reset(token)

    def update(self, value: float) -> None:
        self.update_absolute(self.current + value)


# -- checkpoints ---------------------------------------------------------------------------------------------
def load_torch_file(ckpt: str, safe_load: bool = False, device: Any = None, return_metadata: bool = False) -> Any:
    """A state dict from ``.safetensors``/``.sft`` (with its metadata if asked) or a torch pickle.

    Pickles are always loaded with ``weights_only=True`` (what ComfyUI does on torch >= 2.4, whatever
    ``safe_load`` says); a checkpoint holding ``{"state_dict": ...}`` or one single dict is unwrapped.
    """
    import torch

    ckpt = os.fspath(ckpt)
    device = torch.device("cpu") if device is None else torch.device(device)
    metadata = None
    if ckpt.lower().endswith((".safetensors", ".sft")):
        import safetensors

        try:
            with safetensors.safe_open(ckpt, framework="pt", device=str(device)) as f:
                sd = {key: f.get_tensor(key) for key in f.keys()}
                if return_metadata:
                    metadata = f.metadata()
        except Exception as exc:
            message = str(exc.args[0]) if exc.args else ""
            if "HeaderTooLarge" in message or "MetadataIncompleteBuffer" in message:
                raise ValueError(f"{exc}\n\nFile path: {ckpt}\n\nThe safetensors file is corrupt, incomplete or not "
                                 "a safetensors file at all (a .ckpt/.pt renamed?).") from exc
            raise
    else:
        loaded = torch.load(ckpt, map_location=device, weights_only=True)
        sd = loaded
        if isinstance(loaded, dict):
            if "state_dict" in loaded:
                sd = loaded["state_dict"]
            elif len(loaded) == 1:
                only = next(iter(loaded.values()))
                sd = only if isinstance(only, dict) else loaded
    if isinstance(sd, dict):
        sd = FileStateDict(sd, ckpt)
    return (sd, metadata) if return_metadata else sd


class FileStateDict(dict):
    """A state dict as ``load_torch_file`` read it, which remembers its file and what it held:
    ``comfy.sd.VAE(sd=...)`` of one still as read has the host's model manager load that file (one copy of the
    weights, on the host) instead of building a model in the pack."""

    def __init__(self, sd: dict[str, Any], path: str) -> None:
        super().__init__(sd)
        self.nodehost_path = os.path.abspath(path)
        self._as_read = {key: id(value) for key, value in sd.items()}

    def unchanged_file(self) -> str | None:
        """The file when no key was added, removed or given another tensor since it was read, else None."""
        return self.nodehost_path if {k: id(v) for k, v in self.items()} == self._as_read else None


def unchanged_file(sd: Any) -> str | None:
    """The file a state dict came from, when it is one ``load_torch_file`` returned and is as it read it."""
    return sd.unchanged_file() if isinstance(sd, FileStateDict) else None


def save_torch_file(sd: dict[str, Any], ckpt: str, metadata: dict[str, str] | None = None) -> None:
    """Write ``sd`` as safetensors (with ``metadata``)."""
    from safetensors.torch import save_file

    save_file(sd, os.fspath(ckpt), metadata=metadata)


def calculate_parameters(sd: dict[str, Any], prefix: str = "") -> int:
    return sum(v.nelement() for k, v in sd.items() if k.startswith(prefix))


def state_dict_key_replace(state_dict: dict[str, Any], keys_to_replace: dict[str, str]) -> dict[str, Any]:
    for old, new in keys_to_replace.items():
        if old in state_dict:
            state_dict[new] = state_dict.pop(old)
    return state_dict


def state_dict_prefix_replace(state_dict: dict[str, Any], replace_prefix: dict[str, str],
                              filter_keys: bool = False) -> dict[str, Any]:
    """Rename keys starting with each prefix to the mapped prefix (in place, or only those when ``filter_keys``)."""
    out = {} if filter_keys else state_dict
    for old, new in replace_prefix.items():
        for key in [k for k in state_dict if k.startswith(old)]:
            out[new + key[len(old):]] = state_dict.pop(key)
    return out


# -- tensors -------------------------------------------------------------------------------------------------
def repeat_to_batch_size(tensor: Any, batch_size: int, dim: int = 0) -> Any:
    """``tensor`` cut or repeated along ``dim`` to ``batch_size``."""
    n = tensor.shape[dim]
    if n > batch_size:
        return tensor.narrow(dim, 0, batch_size)
    if n < batch_size:
        reps = [1] * tensor.ndim
        reps[dim] = math.ceil(batch_size / n)
        return tensor.repeat(reps).narrow(dim, 0, batch_size)
    return tensor


def lanczos(samples: Any, width: int, height: int) -> Any:
    """Lanczos resize of ``[B, C, H, W]`` through PIL, per channel in float (no 8-bit rounding); clamped to
    [0, 1] when the input lies there (images), as ComfyUI's 8-bit version is."""
    import numpy as np
    import torch
    from PIL import Image

    data = samples.detach().to("cpu", torch.float32).numpy()
    out = np.empty((*data.shape[:2], height, width), dtype=np.float32)
    for b in range(data.shape[0]):
        for c in range(data.shape[1]):
            img = Image.fromarray(np.ascontiguousarray(data[b, c]))  # float32: mode "F"
            out[b, c] = np.asarray(img.resize((width, height), Image.Resampling.LANCZOS))
    result = torch.from_numpy(out)
    if data.size and data.min() >= 0.0 and data.max() <= 1.0:
        result = result.clamp_(0.0, 1.0)
    return result.to(samples.device, samples.dtype)


def bislerp(samples: Any, width: int, height: int) -> Any:
    """ComfyUI's spherical bilinear resize, approximated here by plain bilinear interpolation."""
    import torch

    return torch.nn.functional.interpolate(samples, size=(height, width), mode="bilinear")


def common_upscale(samples: Any, width: int, height: int, upscale_method: str, crop: str) -> Any:
    """Resize ``[B, C, H, W]`` (or ``[B, C, T, H, W]``...) to ``height`` x ``width``; ``crop="center"`` first cuts
    the input to the target aspect ratio. Methods: nearest-exact, bilinear, area, bicubic, lanczos, bislerp
    (bilinear here)."""
    import torch

    shape = tuple(samples.shape)
    s = samples
    if len(shape) > 4:  # fold the extra dims into the batch
        s = s.reshape(shape[0], shape[1], -1, shape[-2], shape[-1]).movedim(2, 1).reshape(-1, shape[1], *shape[-2:])
    if crop == "center" and width > 0 and height > 0:
        old_w, old_h = s.shape[-1], s.shape[-2]
        old_aspect, new_aspect = old_w / old_h, width / height
        x = y = 0
        if old_aspect > new_aspect:
            x = round((old_w - old_w * new_aspect / old_aspect) / 2)
        elif old_aspect < new_aspect:
            y = round((old_h - old_h * old_aspect / new_aspect) / 2)
        s = s[..., y:old_h - y, x:old_w - x]
    if upscale_method == "lanczos":
        out = lanczos(s, width, height)
    elif upscale_method == "bislerp":
        out = bislerp(s, width, height)
    else:
        out = torch.nn.functional.interpolate(s, size=(height, width), mode=upscale_method)
    if len(shape) > 4:
        out = out.reshape(shape[0], -1, shape[1], height, width).movedim(1, 2).reshape(*shape[:-2], height, width)
    return out


def get_tiled_scale_steps(width: int, height: int, tile_x: int, tile_y: int, overlap: int) -> int:
    """How many tiles ``tiled_scale`` runs for one image (the ``ProgressBar`` total)."""
    return math.ceil(height / (tile_y - overlap)) * math.ceil(width / (tile_x - overlap))


def tiled_scale(samples: Any, function: Callable[[Any], Any], tile_x: int = 64, tile_y: int = 64, overlap: int = 8,
                upscale_amount: float = 4, out_channels: int = 3, output_device: Any = "cpu",
                pbar: ProgressBar | None = None) -> Any:
    """Apply ``function`` (which scales by ``upscale_amount``) to overlapping tiles of ``[B, C, H, W]`` and blend
    the results with feathered edges; ``pbar`` advances once per tile."""
    return tiled_scale_multidim(samples, function, (tile_y, tile_x), overlap, upscale_amount, out_channels,
                                output_device, pbar=pbar)


def _per_dim(value: Any, dims: int) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value] * dims


def tiled_scale_multidim(samples: Any, function: Callable[[Any], Any], tile: Any = (64, 64), overlap: Any = 8,
                         upscale_amount: Any = 4, out_channels: int = 3, output_device: Any = "cpu",
                         downscale: bool = False, index_formulas: Any = None, pbar: ProgressBar | None = None) -> Any:
    """``tiled_scale`` over the last ``len(tile)`` dims of ``[B, C, *spatial]`` (2 for images, 3 for video
    latents): ``function`` maps a tile to its scaled output (``upscale_amount`` per dim, a divisor when
    ``downscale``; ``index_formulas``, one per dim or one for all, give a tile's output offset and size from its
    input ones where the scale is not a plain factor); tiles are blended with edges feathered over the overlap."""
    import itertools

    import torch

    dims = len(tile)
    tiles, overlaps, amounts = list(tile), _per_dim(overlap, dims), _per_dim(upscale_amount, dims)
    formulas = _per_dim(index_formulas, dims) if index_formulas is not None else [None] * dims

    def scaled(d: int, n: float) -> int:
        if formulas[d] is not None:
            return int(formulas[d](n))
        return round(n / amounts[d]) if downscale else round(n * amounts[d])

    def starts(d: int, length: int) -> list[int]:
        """Every ``tile - overlap`` from 0, the last tiles shifted back inside: as many as
        ``get_tiled_scale_steps`` counts (the progress bar's total)."""
        step = max(1, tiles[d] - overlaps[d])
        return [max(0, min(p, length - tiles[d])) for p in range(0, length, step)]

    spatial = samples.shape[2:]
    out_shape = [scaled(d, n) for d, n in enumerate(spatial)]
    results = []
    for b in range(samples.shape[0]):
        s = samples[b:b + 1]
        output = torch.zeros((1, out_channels, *out_shape), device=output_device)
        weight = torch.zeros((1, 1, *out_shape), device=output_device)
        for corner in itertools.product(*(starts(d, n) for d, n in enumerate(spatial))):
            index = tuple(slice(c, c + tiles[d]) for d, c in enumerate(corner))
            piece = function(s[(..., *index)]).to(output_device)
            offsets = [scaled(d, c) for d, c in enumerate(corner)]
            piece = piece[(..., *(slice(0, out_shape[d] - o) for d, o in enumerate(offsets)))]
            mask = torch.ones((1, 1, *piece.shape[2:]), device=output_device)
            for d in range(dims):
                feather = scaled(d, overlaps[d]) if formulas[d] is None else overlaps[d]
                size = piece.shape[2 + d]
                for t in range(min(feather, size // 2)):
                    ramp = (t + 1) / feather
                    mask.narrow(2 + d, t, 1).mul_(ramp)
                    mask.narrow(2 + d, size - 1 - t, 1).mul_(ramp)
            where = (..., *(slice(o, o + n) for o, n in zip(offsets, piece.shape[2:], strict=True)))
            output[where] += piece * mask
            weight[where] += mask
            if pbar is not None:
                pbar.update(1)
        results.append(output / weight)
    return torch.cat(results)


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
