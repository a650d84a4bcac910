"""Weight patches on the host's models without a second copy (ComfyUI's ``ModelPatcher``).

A :class:`ModelPatcher` is a MODEL or CLIP value: the loaded value it wraps (a ``DiffusionModel`` or a
``TextEncoder``; attributes it lacks are read from there) plus a patch list per weight. ``clone()`` shares the
weights; ``add_patches`` returns a patch set under a new ``patches_uuid``. Nothing is computed until the model is
readied for compute (``sync_weights``, called by ``ModelManager.use``): then the wanted patch set is written into
the weights in place, on the device they are on, the originals of only the patched keys backed up (on the
offload device, or beside the weights when the manager sees room for them there). Readying a value that wants
another patch set (or none: the plain loaded value) first puts the originals back; so does the manager when it
moves a model off the compute device. What is applied to a module is recorded on the module itself
(``PatchState``), so every value sharing it agrees on what its weights hold.

Weight names are ComfyUI's: ``diffusion_model.<UNet key>``, ``clip_l.transformer.text_model.<CLIP key>`` (also
``clip_h``, ``clip_g``) and ``clip_<x>.transformer.text_projection.weight``.
A value with another layout says where its weights are with ``patch_modules() -> {prefix: (module, role)}``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from host.models.lora import Patch, as_adapter, as_patch, calculate_weight

_STATE = "_nodehost_patch_state"
#: attributes a ModelPatcher keeps for itself (everything else is read from the wrapped value)
_OWN = frozenset({"model", "patches", "patches_uuid", "model_options", "object_patches"})


def weight_modules(value: Any) -> dict[str, tuple[nn.Module, str]]:
    """prefix -> (module holding the weights, dtype-policy role) of a loaded value: its ``patch_modules()`` when it
    has one; a UNet (``.unet``); a text encoder (``.model`` a ClipTextModel, named by its kind); or a composite
    text encoder with ``clip_l``/``clip_h``/``clip_g`` parts (ComfyUI's SDXL layout)."""
    custom = getattr(value, "patch_modules", None)
    if callable(custom):
        return dict(custom())
    unet = getattr(value, "unet", None)
    if isinstance(unet, nn.Module):
        return {"diffusion_model.": (unet, "unet")}
    text = _clip_model(value)
    if text is not None:
        return _clip_entries(f"clip_{text.spec.kind}", text)
    out: dict[str, tuple[nn.Module, str]] = {}
    for name in ("clip_l", "clip_h", "clip_g"):
        part = getattr(value, name, None)
        part_model = part if _is_clip_model(part) else _clip_model(part)
        if part_model is not None:
            out |= _clip_entries(name, part_model)
    return out


def _is_clip_model(m: Any) -> bool:
    return isinstance(m, nn.Module) and getattr(m, "spec", None) is not None and hasattr(m, "transformer")


def _clip_model(value: Any) -> Any:
    """The ClipTextModel of a TextEncoder-like value (its ``.model``), or None."""
    text = getattr(value, "model", None) if value is not None else None
    return text if _is_clip_model(text) else None


def _clip_entries(name: str, text: Any) -> dict[str, tuple[nn.Module, str]]:
    out = {f"{name}.transformer.text_model.": (getattr(text.transformer, "text_model", text.transformer),
                                               "text_encoder")}
    proj = getattr(text, "text_projection", None)
    if isinstance(proj, nn.Module):
        out[f"{name}.transformer.text_projection."] = (proj, "text_encoder")
    return out


def weight_names(value: Any) -> list[str]:
    """Every patchable weight name of a loaded value (parameters and float buffers)."""
    names = []
    for prefix, (module, _) in weight_modules(value).items():
        names.extend(prefix + k for k, t in module.state_dict(keep_vars=True).items() if t.is_floating_point())
    return names


class FileOriginal:
    """A patched weight's original as the model file holds it (the mapped tensor it was converted from on
    load, and the rounding it went through): put back by converting again, so patching a weight converted on
    load (fp16 file, fp32 compute) needs no second copy of it in memory."""

    __slots__ = ("source", "via")

    def __init__(self, source: Tensor, via: torch.dtype | None) -> None:
        self.source, self.via = source, via

    @staticmethod
    def of(t: Tensor) -> FileOriginal | None:
        from host.models.lazy import SOURCE

        found = getattr(t, SOURCE, None)
        if found is None:
            return None
        source, via = found
        if tuple(source.shape) != tuple(t.shape) or source.data_ptr() == t.data_ptr():
            return None
        return FileOriginal(source, via)

    def write_into(self, t: Tensor) -> None:
        src = self.source
        t.copy_(src.to(self.via) if self.via is not None and self.via != src.dtype else src)

    def tensor(self, like: Tensor) -> Tensor:
        out = torch.empty_like(like)
        self.write_into(out)
        return out


class PatchState:
    """What a module's weights hold: the applied patch set's id (None: the originals) and the originals of
    the keys it patched."""

    def __init__(self) -> None:
        self.applied: Any = None
        #: name -> the original (a copy, or where the file holds it)
        self.backup: dict[str, Tensor | FileOriginal] = {}


def patch_state(module: nn.Module) -> PatchState:
    state = module.__dict__.get(_STATE)
    if state is None:
        state = PatchState()
        module.__dict__[_STATE] = state
    return state


def _tensor(module: nn.Module, name: str) -> Tensor:
    owner, _, leaf = name.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, leaf)


def _restore(module: nn.Module, state: PatchState) -> None:
    with torch.no_grad():
        for name, original in state.backup.items():
            t = _tensor(module, name)
            if isinstance(original, FileOriginal):
                original.write_into(t)
            else:
                t.copy_(original.to(t.device, non_blocking=True))
    state.backup.clear()
    state.applied = None


def _apply(module: nn.Module, state: PatchState, patches: Mapping[str, list[Patch]], backup_to: Any,
           storage: torch.dtype | None) -> None:
    tensors = {name: _tensor(module, name) for name in patches}
    for name, t in tensors.items():
        if name not in state.backup and (original := FileOriginal.of(t)) is not None:
            state.backup[name] = original
    if callable(backup_to):
        nbytes = sum(t.numel() * t.element_size() for n, t in tensors.items() if n not in state.backup)
        device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
        backup_to = backup_to(nbytes, device)
    with torch.no_grad():
        for name, plist in patches.items():
            t = tensors[name]
            if name not in state.backup:
                state.backup[name] = t.detach().to(backup_to, copy=True)
            if t.dtype == torch.float32 and t.is_contiguous():
                # fp32 weights are patched where they lie (the original is in the backup): no working copy
                w = calculate_weight(plist, t.detach(), name)
                if w.data_ptr() != t.data_ptr():
                    t.copy_(w.reshape(t.shape))
                if storage is not None and storage != torch.float32:
                    t.copy_(t.to(storage))  # the storage rounding (CLIP: fp16 values computed in fp32)
                continue
            w = calculate_weight(plist, t.detach().to(torch.float32, copy=True), name)
            if storage is not None and storage != t.dtype:
                w = w.to(storage)  # the weights' storage rounding (CLIP: fp16 values computed in fp32)
            t.copy_(w.reshape(t.shape))


class ModelPatcher:
    """A MODEL/CLIP value: ``model`` (the loaded value, shared by clones) and its patches."""

    def __init__(self, model: Any, patches: dict[str, list[Patch]] | None = None, patches_uuid: Any = None,
                 model_options: dict[str, Any] | None = None) -> None:
        self.model = model
        self.patches: dict[str, list[Patch]] = patches if patches is not None else {}
        self.patches_uuid = patches_uuid if patches_uuid is not None else uuid.uuid4()
        self.model_options: dict[str, Any] = model_options if model_options is not None else {
            "transformer_options": {}}
        self.object_patches: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _OWN:
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"ModelPatcher({type(self.model).__name__}, {len(self.patches)} patched weights)"

    # -- ComfyUI's ModelPatcher surface ---------------------------------------------------------------------
    def clone(self) -> ModelPatcher:
        """Same weights, a copy of the patch lists and options (a CLIP value's own settings, such as its
        clip-skip layer, are copied too: ``TextEncoder.clone``)."""
        base = self.model.clone() if callable(getattr(self.model, "clone", None)) else self.model
        other = ModelPatcher(base, {k: list(v) for k, v in self.patches.items()}, self.patches_uuid,
                             _copy_options(self.model_options))
        other.object_patches = dict(self.object_patches)
        return other

    def is_clone(self, other: Any) -> bool:
        return isinstance(other, ModelPatcher) and _modules_of(other.model) == _modules_of(self.model)

    def model_state_dict(self, filter_prefix: str | None = None) -> dict[str, Tensor]:
        """Weight name -> the tensor in the model now (patched if this or another clone's set is applied)."""
        out = {}
        for prefix, (module, _) in weight_modules(self.model).items():
            for k, t in module.state_dict(keep_vars=True).items():
                if filter_prefix is None or (prefix + k).startswith(filter_prefix):
                    out[prefix + k] = t
        return out

    def add_patches(self, patches: Mapping[Any, Any], strength_patch: float = 1.0,
                    strength_model: float = 1.0) -> list[Any]:
        """Add ``patches`` (weight name, or (name, offset[, function]) -> adapter or ComfyUI patch value) for the
        weights this model has; returns the keys taken. Gives the patch set a new id."""
        names = set(self.model_state_dict())
        taken = []
        for k, v in patches.items():
            key, offset, function = (k, None, None) if isinstance(k, str) else (k[0], k[1], k[2] if len(k) > 2
                                                                                 else None)
            if key in names:
                taken.append(k)
                self.patches.setdefault(key, []).append(Patch(strength_patch, as_adapter(v), strength_model, offset,
                                                              function))
        self.patches_uuid = uuid.uuid4()
        return taken

    def get_key_patches(self, filter_prefix: str | None = None) -> dict[str, list[Any]]:
        """Weight name -> [(original weight, convert function), patch, ...] (ComfyUI's shape, for merging)."""
        backups = {}
        for prefix, (module, _) in weight_modules(self.model).items():
            backups |= {prefix + k: t.tensor(_tensor(module, k)) if isinstance(t, FileOriginal) else t
                        for k, t in patch_state(module).backup.items()}
        out: dict[str, list[Any]] = {}
        for k, t in self.model_state_dict(filter_prefix).items():
            out[k] = [(backups.get(k, t), _no_convert), *self.patches.get(k, [])]
        return out

    def get_patch_keys(self) -> list[str]:
        return list(self.patches)

    def patch_model(self, device_to: Any = None, offload: Any = "cpu",
                    storage: Mapping[str, torch.dtype] | None = None) -> Any:
        """Write this patch set into the weights now (``device_to``: move them there first)."""
        if device_to is not None:
            self.model.to(device_to)
        sync_weights(self, offload, storage)
        return self.model

    def unpatch_model(self, device_to: Any = None) -> None:
        """Put the original weights back (``device_to``: then move them there)."""
        sync_weights(self.model)
        if device_to is not None:
            self.model.to(device_to)

    def model_size(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.model_state_dict().values())


def _no_convert(t: Tensor, **_: Any) -> Tensor:
    return t


def _modules_of(value: Any) -> list[int]:
    return [id(m) for m, _ in weight_modules(value).values()]


def _copy_options(options: Any) -> Any:
    """Dicts and lists copied at every level; other values shared (ComfyUI's model_options clone)."""
    if isinstance(options, dict):
        return {k: _copy_options(v) for k, v in options.items()}
    if isinstance(options, list):
        return [_copy_options(v) for v in options]
    return copy.copy(options) if isinstance(options, set) else options


def base_value(value: Any) -> Any:
    """The loaded value under a ModelPatcher (the value itself otherwise)."""
    return value.model if isinstance(value, ModelPatcher) else value


def sync_weights(value: Any, backup_to: Any = "cpu", storage: Mapping[str, torch.dtype] | None = None) -> None:
    """Make the weights hold what ``value`` wants: its patch set for a ModelPatcher, the originals otherwise.
    ``backup_to``: the device originals are kept on, or ``f(nbytes, weights' device) -> device``; ``storage``:
    role ("unet", "text_encoder") -> the dtype patched weights are rounded through."""
    base = base_value(value)
    token = value.patches_uuid if isinstance(value, ModelPatcher) and value.patches else None
    pending = getattr(base, "weights", None)
    if token is None and pending is not None and not pending.loaded:
        return  # weights still in the file (host.models.lazy): nothing was ever patched, nothing to read now
    for prefix, (module, role) in weight_modules(base).items():
        state = module.__dict__.get(_STATE)
        if token is None and (state is None or (state.applied is None and not state.backup)):
            continue
        state = patch_state(module)
        if state.applied == token:
            continue
        _restore(module, state)
        if token is None:
            continue
        mine = {k[len(prefix):]: [as_patch(p) for p in v] for k, v in value.patches.items() if k.startswith(prefix)}
        state.applied = object()  # partly patched until done: a failure leaves a state every value restores
        _apply(module, state, mine, backup_to, (storage or {}).get(role))
        state.applied = token


__all__ = ["FileOriginal", "ModelPatcher", "PatchState", "base_value", "patch_state", "sync_weights",
           "weight_modules", "weight_names"]
