"""Weights that stay in the model file until a model first computes.

A loader builds the architecture on the meta device and checks the file against it at once (every key there,
every shape right: a wrong file fails in the loader node, naming the file), keeping only views of the
memory-mapped tensors. ``ensure()`` (called by the value's module accessor, so by whatever computes with it)
converts them to the compute dtype on the chosen device and assigns them, once, under a lock. A weight whose
file dtype is already the compute dtype on the CPU stays the mapped page (not copied).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from host.models.errors import WeightMismatch


def check_weights(module: nn.Module, sd: Mapping[str, torch.Tensor], prefix: str,
                  path: Path | str) -> dict[str, torch.Tensor]:
    """``{name: sd[prefix + name]}`` for every entry of ``module``'s state dict, shapes checked (no data read)."""
    expected = module.state_dict()
    missing = [k for k in expected if prefix + k not in sd]
    if missing:
        raise WeightMismatch(path, f"{len(missing)} weights missing under {prefix!r}, e.g. {missing[:4]}")
    picked = {}
    for key, ref in expected.items():
        t = sd[prefix + key]
        if tuple(t.shape) != tuple(ref.shape):
            raise WeightMismatch(path, f"{prefix}{key} has shape {tuple(t.shape)}, the architecture wants "
                                       f"{tuple(ref.shape)}")
        picked[key] = t
    return picked


def materialize(module: nn.Module, tensors: Mapping[str, torch.Tensor], dtype: torch.dtype, device: Any,
                via: torch.dtype | None = None, mapped: bool = False,
                memory_format: torch.memory_format | None = None) -> None:
    """Assign ``tensors`` to ``module`` (built on meta): floats to ``dtype`` (through ``via`` first when given:
    the storage rounding of CLIP weights), everything to ``device``. ``mapped``: the tensors are views of the
    memory-mapped file, so each converted weight notes where its original lies (``remember_source``).
    ``memory_format``: 4-D float weights are converted straight into it (the VAE's channels-last on the CPU:
    one pass instead of a conversion and a reorder)."""
    loaded = {}
    for key, t in tensors.items():
        if t.is_floating_point():
            t = t.to(via) if via is not None else t
            if memory_format is not None and t.dim() == 4:
                loaded[key] = torch.empty(t.shape, dtype=dtype, device=device, memory_format=memory_format).copy_(t)
                continue
            t = t.to(device=device, dtype=dtype)
        else:
            t = t.to(device)
        loaded[key] = t.contiguous()
    module.load_state_dict(loaded, strict=True, assign=True)
    module.eval().requires_grad_(False)
    for key, t in module.state_dict(keep_vars=True).items() if mapped else ():
        source = tensors.get(key)
        if source is not None and t.is_floating_point() and t.data_ptr() != source.data_ptr():
            remember_source(t, source, via)


#: attribute of a loaded weight naming the file tensor it was converted from (host.models.patcher reads it)
SOURCE = "_nodehost_source"


def remember_source(weight: torch.Tensor, source: torch.Tensor, via: torch.dtype | None) -> None:
    """Note on ``weight`` (a converted copy) the mapped file tensor it came from and the rounding it went
    through, so its original can be read back from the file instead of kept as a second copy."""
    setattr(weight, SOURCE, (source, via))


class LazyWeights:
    """The checked weights of one meta-built module, assigned on first ``ensure()``."""

    def __init__(self, module: nn.Module, tensors: Mapping[str, torch.Tensor], dtype: torch.dtype, device: Any,
                 via: torch.dtype | None = None, path: Path | str = "",
                 after: Callable[[nn.Module, Any], None] | None = None, mapped: bool = False,
                 memory_format: torch.memory_format | None = None) -> None:
        self.module = module
        self.mapped, self.memory_format = mapped, memory_format
        #: run on the module once its weights are in (buffers the file does not hold, e.g. position ids)
        self.after = after
        self.dtype, self.device, self.via, self.path = dtype, device, via, path
        self._tensors: Mapping[str, torch.Tensor] | None = tensors
        self._lock = threading.Lock()
        #: seconds the first use spent reading and converting (0 until then)
        self.read_s = 0.0
        self._nbytes = sum(t.numel() * (dtype.itemsize if t.is_floating_point() else t.element_size())
                           for t in tensors.values())

    @property
    def loaded(self) -> bool:
        return self._tensors is None

    def ensure(self) -> nn.Module:
        """The module with its weights (read and converted now if not yet)."""
        if self._tensors is not None:
            with self._lock:
                if self._tensors is not None:
                    start = time.perf_counter()
                    materialize(self.module, self._tensors, self.dtype, self.device, self.via, self.mapped,
                                self.memory_format)
                    if self.after is not None:
                        self.after(self.module, self.device)
                    self._tensors = None
                    self.read_s = time.perf_counter() - start
        return self.module

    def nbytes(self) -> int:
        """Bytes the weights take once loaded (known before)."""
        return self._nbytes

    def move(self, device: Any) -> None:
        """Where the weights go: set before they load, moved after."""
        with self._lock:
            if self._tensors is not None:
                self.device = device
                return
        self.module.to(device)


def lazy(module: nn.Module, sd: Mapping[str, torch.Tensor], prefix: str, path: Path | str, dtype: torch.dtype,
         device: Any, via: torch.dtype | None = None,
         after: Callable[[nn.Module, Any], None] | None = None,
         mapped: bool | None = None,
         memory_format: torch.memory_format | None = None) -> tuple[LazyWeights, set[str]]:
    """Check ``sd`` against ``module`` now, load on first use; also the source keys used. ``mapped``: whether
    ``sd``'s tensors are views of the memory-mapped file (default: what ``sd.mapped`` says; a plain dict: no)."""
    tensors = check_weights(module, sd, prefix, path)
    mapped = bool(getattr(sd, "mapped", False)) if mapped is None else mapped
    return (LazyWeights(module, tensors, dtype, device, via, path, after, mapped, memory_format),
            {prefix + k for k in tensors})


__all__ = ["SOURCE", "LazyWeights", "check_weights", "lazy", "materialize", "remember_source"]
