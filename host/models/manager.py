"""The model manager: one per host, built at start-up and passed down (the server's AppKey, the executor's node
context). It picks the device and dtypes, loads model files through ``host.models.loading`` with a cache keyed
by path and mtime, keeps the models it placed on the compute device within a memory budget (least recently
used moved back to the CPU first, dropped from the cache after), and answers ``/free`` and ``/system_stats``.

Nothing is probed at construction: the first question about devices imports torch and looks at the machine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.models.devices import DeviceConfig, DevicePlan, DtypePolicy, dtype_policy, probe
from host.models.errors import ModelFileError
from host.models.manager_memory import device_free_bytes, model_bytes, move_model, ram_bytes

log = logging.getLogger("nodehost.models")

#: what loading, encoding with and sampling from a checkpoint import (transformers, scipy and sympy among them:
#: about 1,700 modules, a second or two): the server imports them in its start-up warm-up, off the first prompt
MODEL_MODULES = ("host.models.loading", "host.models.clip_model", "host.models.tokenizer", "host.models.conditioning",
                 "host.models.sampling.ksampler_run", "host.models.sampling.table", "host.models.lora")


def import_model_code(stopping: Callable[[], bool] = lambda: False) -> None:
    """Import :data:`MODEL_MODULES` and the transformers classes the text encoders are built from (transformers
    imports them lazily, on first attribute access); ``stopping()`` true ends it at the next module."""
    import importlib

    for name in MODEL_MODULES:
        if stopping():
            return
        importlib.import_module(name)
    if stopping():
        return
    import transformers

    for name in ("CLIPTextConfig", "CLIPTextModel", "CLIPTokenizer"):
        getattr(transformers, name)

#: RAM kept free for everything else when the budget is not given: 2 GB
RAM_HEADROOM = 2 * 1024 ** 3


class ModelFileMissing(ModelFileError, FileNotFoundError):
    """A model file named by a node is in none of its folder's directories."""


@dataclass
class _Cached:
    value: Any
    nbytes: int


def resident_bytes(value: Any, file_bytes: int) -> int:
    """RAM a loaded file's value takes or will take: its parts' weights at their loaded dtype (an fp16 file
    computed in fp32 on the CPU takes twice its size) plus the packed copies of their convolutions; the file's
    size for a value of another kind."""
    from host.models.ops import packed_bytes

    parts = [getattr(value, name, None) for name in ("model", "clip", "vae")] if hasattr(value, "family") else [value]
    total, known = 0, False
    for part in parts:
        module = getattr(part, "module", None)  # a model value (not, say, a LoRA's TensorDict)
        if module is None or not hasattr(module, "modules") or not callable(getattr(part, "nbytes", None)):
            continue
        known = True
        total += int(part.nbytes()) + packed_bytes(module)
    return total if known else file_bytes


class ModelManager:
    """Devices, dtypes, loaded models and their budget. Thread-safe (the server reads ``stats`` off the
    executor's thread)."""

    def __init__(self, config: DeviceConfig | None = None, folders: Any = None, preview_method: str = "none") -> None:
        self.config = config or DeviceConfig()
        #: host.folders.ModelFolders: where model files of each folder name are looked up
        self.folders = folders
        #: ``--preview-method``: latent previews while sampling ("none", "auto", "latent2rgb", "taesd")
        self.preview_method = preview_method
        self._plan: DevicePlan | None = None
        self._policy: DtypePolicy | None = None
        self._lock = threading.RLock()
        #: loaded files, least recently used first: key -> value and its size
        self._files: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
        #: models placed on the compute device, least recently used first: id -> (model, bytes)
        self._placed: OrderedDict[int, tuple[Any, int]] = OrderedDict()

    # -- devices and dtypes ---------------------------------------------------------------------------
    @property
    def plan(self) -> DevicePlan:
        with self._lock:
            if self._plan is None:
                self._plan = probe(self.config)
                log.info("models compute on %s (%s), vram state %s", self._plan.compute, self._plan.name,
                         self._plan.vram_state)
            return self._plan

    @property
    def device(self) -> Any:
        """The torch device models compute on."""
        import torch

        return torch.device(self.plan.compute)

    @property
    def offload_device(self) -> Any:
        import torch

        return torch.device(self.plan.offload)

    @property
    def dtype_policy(self) -> DtypePolicy:
        with self._lock:
            if self._policy is None:
                self._policy = dtype_policy(self.config, self.plan)
            return self._policy

    @property
    def ram_budget(self) -> int:
        if self.config.ram_budget_gb is not None:
            return int(self.config.ram_budget_gb * 1024 ** 3)
        total, _ = ram_bytes()
        return max(total - RAM_HEADROOM, total // 2)

    # -- files ------------------------------------------------------------------------------------------
    def find(self, folder: str, name: str) -> Path:
        """The full path of model file ``name`` in ``folder`` (``checkpoints``, ``vae``, ...)."""
        path = self.folders.full_path(folder, name) if self.folders is not None else None
        if path is None:
            where = ", ".join(str(p) for p in self.folders.paths(folder)) if self.folders is not None else "nowhere"
            raise ModelFileMissing(name, f"not found in {folder} ({where})")
        return path

    def cached(self, key: tuple[Any, ...], path: Path, build: Callable[[], Any]) -> Any:
        """The value loaded from ``path`` under ``key``, built by ``build()`` unless the file is unchanged
        since it was (key, path, mtime and size); the least recently used are dropped past the RAM budget."""
        st = os.stat(path)
        full = (*key, str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._files.get(full)
            if hit is not None:
                self._files.move_to_end(full)
                return hit.value
        value = build()
        with self._lock:
            self._files[full] = _Cached(value, st.st_size)
            self._trim_files(self.ram_budget)
        return value

    def _trim_files(self, budget: int) -> None:
        sizes = {key: resident_bytes(c.value, c.nbytes) for key, c in self._files.items()}
        total = sum(sizes.values())
        while self._files and total > budget and len(self._files) > 1:
            key, dropped = self._files.popitem(last=False)
            total -= sizes[key]
            self._unplace(dropped.value)
            log.info("model cache: dropped %s", key[-3])

    def cached_files(self) -> list[str]:
        """Paths of the loaded files, least recently used first."""
        with self._lock:
            return [k[-3] for k in self._files]

    def embedding_dirs(self) -> list[Path]:
        """Where text encoders look up ``embedding:name`` (the embeddings folders)."""
        return self.folders.paths("embeddings") if self.folders is not None else []

    # -- loading (host.models.loading, the arch code) -----------------------------------------------------
    def load_checkpoint(self, path: Path, *, want_unet: bool = True, want_clip: bool = True,
                        want_vae: bool = True) -> Any:
        from host.models import loading

        def build() -> Any:
            return loading.load_checkpoint(path, device=self.device, dtype_policy=self.dtype_policy,
                                           want_unet=want_unet, want_clip=want_clip, want_vae=want_vae,
                                           embedding_dirs=self.embedding_dirs())

        return self.cached(("checkpoint", want_unet, want_clip, want_vae), path, build)

    def load_unet(self, path: Path, **kwargs: Any) -> Any:
        from host.models import loading

        return self.cached(("unet", tuple(sorted(kwargs.items()))), path, lambda: loading.load_unet(
            path, device=self.device, dtype_policy=self.dtype_policy, **kwargs))

    def load_clip(self, path: Path, kind: str, device: Any = None, **kwargs: Any) -> Any:
        from host.models import loading

        target = device if device is not None else self.plan.text_encoder_device
        return self.cached(("clip", kind, str(target), tuple(sorted(kwargs.items()))), path, lambda: loading.load_clip(
            path, kind, device=_torch_device(target), dtype_policy=self.dtype_policy,
            embedding_dirs=self.embedding_dirs(), **kwargs))

    def load_dual_clip(self, paths: tuple[Path, Path], kind: str, device: Any = None) -> Any:
        """DualCLIPLoader's two files as one CLIP (cached under the first file, keyed by the second's too)."""
        from host.models import loading

        target = device if device is not None else self.plan.text_encoder_device
        st = os.stat(paths[1])
        key = ("dual_clip", kind, str(target), str(Path(paths[1]).resolve()), st.st_mtime_ns, st.st_size)
        return self.cached(key, paths[0], lambda: loading.load_dual_clip(
            paths, kind, device=_torch_device(target), dtype_policy=self.dtype_policy,
            embedding_dirs=self.embedding_dirs()))

    def load_vae(self, path: Path, **kwargs: Any) -> Any:
        from host.models import loading

        return self.cached(("vae",), path, lambda: loading.load_vae(
            path, device=_torch_device(self.plan.vae_device), dtype_policy=self.dtype_policy, **kwargs))

    def taesd_decoder(self, kind: str) -> Any:
        """The TAESD preview decoder for ``kind`` ("sd1" or "sdxl") from the vae_approx folder, None when absent."""
        stem = {"sd1": "taesd_decoder", "sdxl": "taesdxl_decoder"}[kind]
        if self.folders is None:
            return None
        names = [n for n in self.folders.filename_list("vae_approx") if Path(n).stem == stem]
        if not names:
            return None
        path = self.find("vae_approx", names[0])
        from host.models import taesd

        return self.cached(("taesd",), path, lambda: taesd.load_decoder(path, self.device))

    # -- placement -------------------------------------------------------------------------------------
    def use(self, model: Any, device: Any = None) -> Any:
        """Put ``model`` on the compute device (or ``device``) before computing with it, within the budget:
        in the low/no VRAM states every other model goes back to the CPU first; otherwise the least recently
        used ones do until it fits. Then its weights are made to hold what it wants: a patched model's (LoRA)
        patch set, written in place; the originals for a plain one (host.models.patcher.sync_weights)."""
        from host.models.patcher import base_value, sync_weights

        target = device if device is not None else self.device
        if str(target) != "cpu":
            self._place(base_value(model), target)
        with self._lock:
            policy = self.dtype_policy
            sync_weights(model, self._backup_device, {role: policy.torch_dtype(role) for role in
                                                      ("unet", "text_encoder")})
        return model

    def _backup_device(self, nbytes: int, device: Any) -> Any:
        """Where the originals of ``nbytes`` of patched weights on ``device`` are kept: beside them when the
        device has room for four times as much past the reserve (no copies across the bus), else offloaded."""
        if str(device) == "cpu" or self.plan.vram_state in ("low", "no"):
            return self.offload_device
        return device if device_free_bytes(device) - self.plan.reserve_bytes >= 4 * nbytes else self.offload_device

    def _place(self, model: Any, target: Any) -> None:
        need = model_bytes(model)
        with self._lock:
            if id(model) in self._placed:
                self._placed.move_to_end(id(model))
                return
            if self.plan.vram_state in ("low", "no"):
                self._evict(lambda: False)
            else:
                self._evict(lambda: device_free_bytes(target) - self.plan.reserve_bytes >= need)
            move_model(model, target)
            self._placed[id(model)] = (model, need)

    def done(self, model: Any) -> None:
        """A node finished computing with ``model``: with ``--novram`` or ``--disable-smart-memory`` it goes
        back to the CPU at once."""
        if self.plan.vram_state == "no" or self.config.disable_smart_memory:
            with self._lock:
                self._unplace(model)

    def _evict(self, enough: Callable[[], bool]) -> None:
        if self.plan.vram_state == "gpu_only":
            return
        while self._placed and not enough():
            _, (model, _) = self._placed.popitem(last=False)
            _unpatched(model)
            move_model(model, self.offload_device)
        _empty_device_cache()

    def _unplace(self, value: Any) -> None:
        for part in _parts(value):
            if self._placed.pop(id(part), None) is not None and self.plan.vram_state != "gpu_only":
                _unpatched(part)
                move_model(part, self.offload_device)

    def placed(self) -> list[Any]:
        """The models on the compute device, least recently used first."""
        with self._lock:
            return [m for m, _ in self._placed.values()]

    # -- /free and /system_stats -----------------------------------------------------------------------
    def unload_all(self) -> None:
        """``/free {"unload_models": true}``: every model back to the CPU, the file cache emptied."""
        with self._lock:
            for model, _ in list(self._placed.values()):
                if self._plan is not None and self._plan.vram_state != "gpu_only":
                    _unpatched(model)
                    move_model(model, self.offload_device)
            self._placed.clear()
            self._files.clear()
        _empty_device_cache()

    def free_memory(self, nbytes: int, device: Any = None) -> None:
        """Make ``nbytes`` free on ``device`` (the compute device): least recently used models move off."""
        target = device if device is not None else self.device
        if str(target) == "cpu":
            with self._lock:
                self._trim_files(self.ram_budget - nbytes)
            return
        with self._lock:
            self._evict(lambda: device_free_bytes(target) >= nbytes)

    def memory_by_device(self) -> dict[str, int]:
        """Bytes of model weights per device (/metrics): the loaded files (host RAM, ``cpu``) and what is placed
        on the compute device; probes nothing."""
        with self._lock:
            placed = sum(nbytes for _, nbytes in self._placed.values())
            out = {"cpu": sum(c.nbytes for c in self._files.values())}
        if self._plan is not None and str(self._plan.compute) != "cpu":
            out[str(self._plan.compute)] = placed
        return out

    def stats(self) -> list[dict[str, Any]]:
        """``/system_stats``'s ``devices``: the compute device first (the real figures), then the CPU."""
        from host.models.manager_memory import device_stats

        plan = self.plan
        devices = [device_stats(plan.compute)]
        if plan.compute != "cpu":
            devices.append(device_stats("cpu"))
        return devices


def _parts(value: Any) -> list[Any]:
    """A loaded value and its components (a Checkpoint's model, clip and vae)."""
    parts = [value]
    for name in ("model", "clip", "vae"):
        part = getattr(value, name, None)
        if part is not None:
            parts.append(part)
    return parts


def _unpatched(model: Any) -> None:
    """A model leaving the compute device gets its original weights back (its patches, and the backups kept
    beside it, do not travel); the next ``use`` patches it again."""
    from host.models.patcher import sync_weights

    sync_weights(model)


def _torch_device(device: Any) -> Any:
    import torch

    return torch.device(device)


def _empty_device_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["MODEL_MODULES", "import_model_code", "resident_bytes", "ModelFileMissing", "ModelManager"]
