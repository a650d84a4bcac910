"""A pack's patched clone of a host MODEL, host side: built from what the child sends
(isolate/model_patches.py) as a clone of the host's own ModelPatcher, sharing its weights.

- Weight patches land in the clone's patch lists (host.models.patcher), in ComfyUI's forms: a tensor,
  ``(tensor,)`` and ``("diff", (tensor, ...))`` (full differences), ``("set", (tensor,))``, and
  ``("lora", (up, down, alpha, mid, dora_scale, reshape))``; other kinds are skipped with one warning. The
  model's own weights change only while the clone is sampled and are put back for any other value.
- The callables of model_options become host functions in the clone's ``model_options`` under ComfyUI's keys
  (``ChildFunction``); the host's sampler calls them as ComfyUI does, and each call runs the pack's function
  in its child (host/extensions/child_calls.py), tensors through shared memory.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("nodehost.extensions")

#: transformer_options["patches"] name -> the kind of call the child makes of it
_PATCH_KINDS = {"attn1_patch": "attn", "attn2_patch": "attn", "attn1_output_patch": "attn_out",
                "attn2_output_patch": "attn_out", "input_block_patch": "input_block",
                "output_block_patch": "output_block"}
_OPTION_KINDS = {"sampler_cfg_function": "cfg", "sampler_post_cfg_function": "post_cfg",
                 "sampler_pre_cfg_function": "pre_cfg", "model_function_wrapper": "wrapper"}
_LISTS = ("sampler_post_cfg_function", "sampler_pre_cfg_function")


def _wire_safe(value: Any) -> Any:
    """A value the codec sends as data: tensors and plain values as they are, containers walked, a
    conditioning entry as its strength, any other host object as None (it cannot reach the pack)."""
    import torch

    if value is None or isinstance(value, (str, int, float, bool, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_wire_safe(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): _wire_safe(v) for k, v in value.items() if k not in ("model", "model_options")}
    strength = getattr(value, "strength", None)
    return {"strength": float(strength)} if isinstance(strength, (int, float)) else None


def _first_tensor(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for v in items:
        found = _first_tensor(v)
        if found is not None:
            return found
    return None


def _like(value: Any, ref: Any) -> Any:
    """The child's answer on the device and in the dtype of the host's tensors."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(ref.device, ref.dtype) if ref is not None and value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        items = [_like(v, ref) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return value


class ChildFunction:
    """A pack's function from model_options, called from the host's sampler with ComfyUI's arguments."""

    def __init__(self, runner: Any, child: Any, ref: Any, kind: str, owner: Any, name: str) -> None:
        self.runner, self.child, self.ref, self.kind, self.owner, self.name = runner, child, ref, kind, owner, name

    def __repr__(self) -> str:
        return f"<{self.name} of pack {self.runner.name!r} ({self.ref.type})>"

    def __call__(self, *args: Any) -> Any:
        from host.extensions.child_calls import call_child

        if self.runner.child is not self.child:
            from host.extensions.remote import ExtensionCrashed

            raise ExtensionCrashed(f"extension {self.runner.name!r} was restarted since it patched this MODEL: its "
                                   f"{self.name} is gone (run its node again)")
        ref = _first_tensor(args)
        live = None
        if self.kind == "wrapper":
            apply_model, params = args
            live = id(apply_model)
            self.runner.live[live] = apply_model
            args = (live, params)
        try:
            out = call_child(self.runner, "callback", {"fn": self.ref, "kind": self.kind, "owner": self.owner,
                                                       "args": _shared(self.runner, _wire_safe(list(args)))},
                             what=f"its {self.name} ({self.ref.type})")
        finally:
            if live is not None:
                self.runner.live.pop(live, None)
        return _like(out, ref)


def _shared(runner: Any, value: Any, memo: dict[int, Any] | None = None) -> Any:
    """Tensors copied into shared memory once each (the same tensor given twice, as attn1's n, context and
    value are, is copied once and sent as the same bytes)."""
    import torch

    memo = {} if memo is None else memo
    if isinstance(value, torch.Tensor):
        if id(value) not in memo:
            shared = runner.shm.empty(tuple(value.shape), str(value.dtype).removeprefix("torch."))
            shared.copy_(value.detach())
            memo[id(value)] = shared
        return memo[id(value)]
    if isinstance(value, (list, tuple)):
        items = [_shared(runner, v, memo) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {k: _shared(runner, v, memo) for k, v in value.items()}
    return value


def as_adapter(value: Any) -> Any:
    """A ComfyUI patch value as the host's adapter, or None (a kind the host does not apply)."""
    from torch import Tensor

    from host.models.lora import LoRA
    from host.models.lora import as_adapter as host_adapter

    if isinstance(value, Tensor):
        value = (value,)
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "lora":
        up, down, alpha, mid, dora, reshape = (list(value[1]) + [None] * 6)[:6]
        return LoRA(up, down, None if alpha is None else float(alpha), mid, dora, reshape)
    try:
        return host_adapter(value)
    except TypeError:
        return None


def _add_weights(clone: Any, weights: list[list[Any]]) -> None:
    """The weight patches, in order, one ``add_patches`` call per run of equal strengths."""
    run: dict[Any, Any] = {}
    strengths: tuple[float, float] | None = None
    skipped: set[str] = set()
    for name, strength_patch, value, strength_model, offset in weights:
        adapter = as_adapter(value)
        if adapter is None:
            skipped.add(value[0] if isinstance(value, tuple) and value and isinstance(value[0], str) else
                        type(value).__name__)
            continue
        key = name if offset is None else (name, tuple(offset))
        if strengths != (strength_patch, strength_model) or key in run:
            if run and strengths is not None:
                clone.add_patches(run, *strengths)
            run, strengths = {}, (strength_patch, strength_model)
        run[key] = adapter
    if run and strengths is not None:
        clone.add_patches(run, *strengths)
    for kind in sorted(skipped):
        log.warning("a pack's weight patches of kind %r are not applied by the host (it samples without them)",
                    kind)


def patched_clone(runner: Any, base: Any, payload: dict[str, Any]) -> Any:
    """A host clone of ``base`` with the pack's weight patches and model_options functions."""
    from host.models.patcher import ModelPatcher

    if getattr(base, "unet", None) is None:
        return base  # not a diffusion model: nothing here to patch
    clone = (base if isinstance(base, ModelPatcher) else ModelPatcher(base)).clone()
    _add_weights(clone, payload.get("weights") or [])
    child, owner = runner.child, payload.get("owner")

    def fn(ref: Any, kind: str, name: str) -> ChildFunction:
        return ChildFunction(runner, child, ref, kind, owner, name)

    options = clone.model_options
    for key, value in (payload.get("options") or {}).items():
        if key in _LISTS:
            options.setdefault(key, []).extend(fn(v, _OPTION_KINDS[key], key) for v in value)
        elif key in _OPTION_KINDS:
            options[key] = fn(value, _OPTION_KINDS[key], key)
    if payload.get("disable_cfg1"):
        options["disable_cfg1_optimization"] = True
    topts = options.setdefault("transformer_options", {})
    for name, fns in (payload.get("patches") or {}).items():
        topts.setdefault("patches", {}).setdefault(name, []).extend(fn(f, _PATCH_KINDS[name], name) for f in fns)
    for name, entries in (payload.get("replace") or {}).items():
        table = topts.setdefault("patches_replace", {}).setdefault(name, {})
        for block, number, index, f in entries:
            key = (block, int(number)) if index is None else (block, int(number), int(index))
            table[key] = fn(f, "attn_replace", f"{name} replace {key}")
    return clone


__all__ = ["ChildFunction", "as_adapter", "patched_clone"]
