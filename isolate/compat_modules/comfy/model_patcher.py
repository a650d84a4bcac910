"""ComfyUI's ``ModelPatcher`` in a pack child: a MODEL the host holds, behind a proxy with ComfyUI's names.

What only describes the model is answered here, from what the host says once (``model_info``):
``model.latent_format``, ``model.model_type``, ``get_model_object("model_sampling")``, ``model_dtype()``.
``clone`` copies the proxy (same host weights); ``add_patches``, ``add_object_patch``, ``model_options``, the
``set_model_*`` patch setters and the wrappers and callbacks (``add_wrapper_with_key``, ``add_callback``)
record the patches on the clone, as ComfyUI does. Sampling runs on the host (``comfy.sample.sample``, or the
host's KSampler when the clone is a node output): the clone crosses with its weight patches and the
model_options callables the host applies (isolate/model_patches.py), which the host calls back here while it
samples; what it does not apply is named in one warning per kind.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from isolate.proxies import HostObject

log = logging.getLogger(__name__)


class ModelPatcher(HostObject):
    def __init__(self, ref: Any, load_device: Any = None, offload_device: Any = None, size: int = 0,
                 weight_inplace_update: bool = False) -> None:
        super().__init__(ref)
        self.patches: dict[str, list[Any]] = {}
        self.object_patches: dict[str, Any] = {}
        self.model_options: dict[str, Any] = {"transformer_options": {}}
        self.patches_uuid = None
        self.weight_inplace_update = weight_inplace_update
        self._info: dict[str, Any] | None = None
        self._model: Any = None
        self.parent: ModelPatcher | None = None
        #: ComfyUI's wrappers and callbacks: kind -> key -> [fn, ...] (comfy.patcher_extension's kinds)
        self.wrappers: dict[str, dict[str, list[Any]]] = {}
        self.callbacks: dict[str, dict[str, list[Any]]] = {}

    @property
    def __nh_ref__(self) -> Any:
        """The reference alone, or with the patches the host applies (isolate/model_patches.py)."""
        from isolate.model_patches import crossing

        return crossing(self)

    # -- what the host tells once -------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self._call("model_info")
        return self._info

    @property
    def model(self) -> Any:
        if self._model is None:
            from comfy.model_base import HostModel

            self._model = HostModel(self)
        return self._model

    @property
    def load_device(self) -> Any:
        from comfy.model_management import get_torch_device

        return get_torch_device()

    @property
    def offload_device(self) -> Any:
        from comfy.model_management import unet_offload_device

        return unet_offload_device()

    @property
    def size(self) -> int:
        return int(self.info().get("size", 0))

    def model_size(self) -> int:
        return self.size

    def model_dtype(self) -> Any:
        import torch

        return getattr(torch, self.info().get("dtype", "float32"))

    def get_model_object(self, name: str) -> Any:
        if name in self.object_patches:
            return self.object_patches[name]
        target: Any = self.model
        for part in name.split("."):
            target = getattr(target, part)
        return target

    def model_state_dict(self, filter_prefix: str | None = None) -> dict[str, Any]:
        """Weight name (``diffusion_model.*``) -> the host's weight as it is now, copied through shared memory."""
        return self._call("model_state_dict", filter_prefix)

    def get_key_patches(self, filter_prefix: str | None = None) -> dict[str, list[Any]]:
        """ComfyUI's shape, ``name -> [(weight, convert)] + patches``, from the host's weights (a merge reads it)."""
        out: dict[str, list[Any]] = {k: [(w, _no_convert)] for k, w in self.model_state_dict(filter_prefix).items()}
        for name, plist in self.patches.items():
            if name in out:
                out[name].extend(plist)
        return out

    def is_clone(self, other: Any) -> bool:
        return isinstance(other, ModelPatcher) and other._ref == self._ref

    def clone_has_same_weights(self, clone: Any) -> bool:
        return self.is_clone(clone) and not self.patches and not clone.patches

    # -- clones and patches (kept on the clone) -----------------------------------------------------------
    def clone(self) -> ModelPatcher:
        n = type(self)(self._ref)
        n.patches = {k: list(v) for k, v in self.patches.items()}
        n.object_patches = dict(self.object_patches)
        n.model_options = copy.copy(self.model_options)
        n.model_options["transformer_options"] = _copy_transformer_options(self.model_options)
        n._info, n._model, n.parent = self._info, self._model, self
        n.wrappers = {k: {key: list(fns) for key, fns in v.items()} for k, v in self.wrappers.items()}
        n.callbacks = {k: {key: list(fns) for key, fns in v.items()} for k, v in self.callbacks.items()}
        return n

    # -- wrappers and callbacks (comfy.patcher_extension), recorded like the patches ------------------------
    def add_wrapper_with_key(self, wrapper_type: str, key: str, wrapper: Any) -> None:
        self.wrappers.setdefault(wrapper_type, {}).setdefault(key, []).append(wrapper)

    def add_wrapper(self, wrapper_type: str, wrapper: Any) -> None:
        self.add_wrapper_with_key(wrapper_type, None, wrapper)  # type: ignore[arg-type]  (ComfyUI's key None)

    def remove_wrappers_with_key(self, wrapper_type: str, key: str) -> None:
        self.wrappers.get(wrapper_type, {}).pop(key, None)

    def get_wrappers(self, wrapper_type: str, key: str) -> list[Any]:
        return list(self.wrappers.get(wrapper_type, {}).get(key, []))

    def add_callback_with_key(self, call_type: str, key: str, callback: Any) -> None:
        self.callbacks.setdefault(call_type, {}).setdefault(key, []).append(callback)

    def add_callback(self, call_type: str, callback: Any) -> None:
        self.add_callback_with_key(call_type, None, callback)  # type: ignore[arg-type]

    def remove_callbacks_with_key(self, call_type: str, key: str) -> None:
        self.callbacks.get(call_type, {}).pop(key, None)

    def get_callbacks(self, call_type: str, key: str) -> list[Any]:
        return list(self.callbacks.get(call_type, {}).get(key, []))

    def add_patches(self, patches: dict[str, Any], strength_patch: float = 1.0, strength_model: float = 1.0) -> list:
        for key, patch in patches.items():
            name, offset, function = key, None, None
            if isinstance(key, tuple):
                name = key[0]
                offset = key[1] if len(key) > 1 else None
                function = key[2] if len(key) > 2 else None
            self.patches.setdefault(name, []).append((strength_patch, patch, strength_model, offset, function))
        return list(patches)

    def add_object_patch(self, name: str, obj: Any) -> None:
        self.object_patches[name] = obj

    def _topts(self) -> dict[str, Any]:
        return self.model_options.setdefault("transformer_options", {})

    def set_model_patch(self, patch: Any, name: str) -> None:
        self._topts().setdefault("patches", {}).setdefault(name, []).append(patch)

    def set_model_patch_replace(self, patch: Any, name: str, block_name: str, number: int,
                                transformer_index: int | None = None) -> None:
        key = (block_name, number) if transformer_index is None else (block_name, number, transformer_index)
        self._topts().setdefault("patches_replace", {}).setdefault(name, {})[key] = patch

    def set_model_attn1_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn1_patch")

    def set_model_attn2_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_patch")

    def set_model_attn1_output_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn1_output_patch")

    def set_model_attn2_output_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_output_patch")

    def set_model_input_block_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "input_block_patch")

    def set_model_output_block_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "output_block_patch")

    def set_model_attn1_replace(self, patch: Any, block_name: str, number: int, transformer_index: Any = None) -> None:
        self.set_model_patch_replace(patch, "attn1", block_name, number, transformer_index)

    def set_model_attn2_replace(self, patch: Any, block_name: str, number: int, transformer_index: Any = None) -> None:
        self.set_model_patch_replace(patch, "attn2", block_name, number, transformer_index)

    def set_model_unet_function_wrapper(self, unet_wrapper_function: Any) -> None:
        self.model_options["model_function_wrapper"] = unet_wrapper_function

    def set_model_denoise_mask_function(self, denoise_mask_function: Any) -> None:
        self.model_options["denoise_mask_function"] = denoise_mask_function

    def set_model_sampler_cfg_function(self, sampler_cfg_function: Any,
                                           disable_cfg1_optimization: bool = False) -> None:
        self.model_options["sampler_cfg_function"] = sampler_cfg_function
        if disable_cfg1_optimization:
            self.model_options["disable_cfg1_optimization"] = True

    def set_model_sampler_post_cfg_function(self, post_cfg_function: Any,
                                           disable_cfg1_optimization: bool = False) -> None:
        self.model_options.setdefault("sampler_post_cfg_function", []).append(post_cfg_function)
        if disable_cfg1_optimization:
            self.model_options["disable_cfg1_optimization"] = True

    def set_model_sampler_pre_cfg_function(self, pre_cfg_function: Any,
                                           disable_cfg1_optimization: bool = False) -> None:
        self.model_options.setdefault("sampler_pre_cfg_function", []).append(pre_cfg_function)

    def model_patches_to(self, device: Any) -> None:
        return None

    def patch_model(self, device_to: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self.model

    def unpatch_model(self, device_to: Any = None, unpatch_weights: bool = True) -> None:
        return None

    def has_patches(self) -> bool:
        return bool(self.patches or self.object_patches or self.wrappers or self.callbacks
                    or _has_options(self.model_options))


def _no_convert(weight: Any, **_: Any) -> Any:
    return weight


def _copy_transformer_options(options: dict[str, Any]) -> dict[str, Any]:
    topts = dict(options.get("transformer_options", {}))
    if "patches" in topts:
        topts["patches"] = {k: list(v) for k, v in topts["patches"].items()}
    if "patches_replace" in topts:
        topts["patches_replace"] = {k: dict(v) for k, v in topts["patches_replace"].items()}
    return topts


def _has_options(options: dict[str, Any]) -> bool:
    topts = options.get("transformer_options", {})
    return any(k != "transformer_options" for k in options) or bool(topts.get("patches") or
                                                                    topts.get("patches_replace"))


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
