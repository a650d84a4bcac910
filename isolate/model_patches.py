"""A pack's patched clone of a host MODEL, child side: what crosses to the host, and the callbacks the host
makes into the pack while it samples.

A ``comfy.model_patcher.ModelPatcher`` proxy that carries something the host applies crosses as
``Patched(ref, payload)`` (isolate/codec.py), the host building its own clone from the payload
(host/extensions/model_patches.py):

- ``weights``: ``[key, strength_patch, value, strength_model, offset]`` per recorded ``add_patches`` entry, the
  value in ComfyUI's forms (a tensor, ``(tensor,)``, ``("diff", (tensor, ...))``, ``("set", (tensor,))``,
  ``("lora", (up, down, alpha, mid, dora_scale, reshape))``), tensors through shared memory;
- ``options``: the callables of ``model_options`` the host's sampler calls (``sampler_cfg_function``,
  ``sampler_post_cfg_function``, ``sampler_pre_cfg_function``, ``model_function_wrapper``) and
  ``disable_cfg1_optimization``; ``patches`` / ``replace``: the attention patches of ``transformer_options``;
  the callables stay here and cross as references (called back with ``callback``);
- ``owner``: this patcher, kept here, so a callback can give the pack's function ComfyUI's ``model`` and
  ``model_options`` arguments and its own ``transformer_options`` entries.

What the host does not apply (object patches, wrappers and callbacks of comfy.patcher_extension, block patches,
weight patches with a function, ``denoise_mask_function``) is named in one warning per kind.
"""

from __future__ import annotations

import logging
from typing import Any

from isolate.codec import Patched

log = logging.getLogger(__name__)

#: model_options keys the host's sampler applies (callables called back here)
APPLIED_OPTIONS = ("sampler_cfg_function", "sampler_post_cfg_function", "sampler_pre_cfg_function",
                   "model_function_wrapper")
#: transformer_options["patches"] names the host's UNet applies
APPLIED_PATCHES = ("attn1_patch", "attn2_patch", "attn1_output_patch", "attn2_output_patch",
                   "input_block_patch", "output_block_patch")
#: transformer_options["patches_replace"] names the host's UNet applies
APPLIED_REPLACE = ("attn1", "attn2")
#: the callback kinds whose one argument is ComfyUI's args dict (``model``/``model_options`` added here)
DICT_KINDS = ("cfg", "post_cfg", "pre_cfg")

_warned: set[str] = set()


class Kept:
    """The patcher a crossing came from, kept in this process (the codec sends a reference to it)."""

    __slots__ = ("patcher",)

    def __init__(self, patcher: Any) -> None:
        self.patcher = patcher


def _warn_once(what: str) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning("nodehost: the host's sampler does not apply %s set on a MODEL by this pack (it samples "
                    "without it)", what)


def unapplied(patcher: Any) -> list[str]:
    """What is recorded on ``patcher`` that the host does not apply."""
    out = [f"object patch {k!r}" for k in patcher.object_patches]
    out += [f"wrapper {k!r}" for k, v in patcher.wrappers.items() if v]
    out += [f"callback {k!r}" for k, v in patcher.callbacks.items() if v]
    out += ["a weight patch with a function" for plist in patcher.patches.values() if any(p[4] for p in plist)][:1]
    options = patcher.model_options
    out += [f"model_options[{k!r}]" for k, v in options.items()
            if v and k not in (*APPLIED_OPTIONS, "transformer_options", "disable_cfg1_optimization")]
    topts = options.get("transformer_options", {})
    out += [f"the {k} patch" for k, v in topts.get("patches", {}).items() if v and k not in APPLIED_PATCHES]
    out += [f"the {k} replace patch" for k, v in topts.get("patches_replace", {}).items()
            if v and k not in APPLIED_REPLACE]
    return out


def payload_of(patcher: Any) -> dict[str, Any] | None:
    """The payload of a crossing (see the module docstring); None when nothing recorded is applied there."""
    weights = [[name, float(p[0]), p[1], float(p[2]), list(p[3]) if p[3] is not None else None]
               for name, plist in patcher.patches.items() for p in plist if not p[4]]
    options = patcher.model_options
    calls = {k: options[k] for k in APPLIED_OPTIONS if options.get(k)}
    topts = options.get("transformer_options", {})
    patches = {k: list(v) for k, v in topts.get("patches", {}).items() if v and k in APPLIED_PATCHES}
    replace = {k: [[*key, None][:3] + [fn] for key, fn in v.items()]
               for k, v in topts.get("patches_replace", {}).items() if v and k in APPLIED_REPLACE}
    if not (weights or calls or patches or replace):
        return None
    return {"weights": weights, "options": calls, "patches": patches, "replace": replace,
            "disable_cfg1": bool(options.get("disable_cfg1_optimization")), "owner": Kept(patcher)}


def crossing(patcher: Any) -> Any:
    """What ``patcher`` crosses to the host as: its reference, or ``Patched`` with what the host applies."""
    for what in unapplied(patcher):
        _warn_once(what)
    payload = payload_of(patcher)
    return patcher._ref if payload is None else Patched(patcher._ref, payload)


# -- the host's calls back into the pack ------------------------------------------------------------------
def _extra(patcher: Any, host_extra: dict[str, Any]) -> dict[str, Any]:
    """ComfyUI's ``extra_options``: the pack's transformer_options entries (not its patches) under what the
    host's UNet says of the block being run."""
    topts = patcher.model_options.get("transformer_options", {})
    mine = {k: v for k, v in topts.items() if k not in ("patches", "patches_replace")}
    return {**mine, **host_extra}


def _apply_model(ref: Any) -> Any:
    """``apply_model(input, timestep, **c)`` for a model_function_wrapper: the host's UNet call, run there."""
    from isolate import host_link

    def apply_model(input: Any, timestep: Any, **c: Any) -> Any:
        return host_link.call("apply_model", ref=ref, input=input, timestep=timestep, c=c)

    return apply_model


def run_callback(kind: str, fn: Any, patcher: Any, args: list[Any]) -> Any:
    """Call the pack's ``fn`` as ComfyUI calls a callable of that kind."""
    if kind in DICT_KINDS:
        return fn({**args[0], "model": patcher.model, "model_options": patcher.model_options})
    if kind in ("attn", "attn_replace"):
        n, context, value, extra = args
        out = fn(n, context, value, _extra(patcher, extra))
        return list(out) if kind == "attn" else out
    if kind == "attn_out":
        return fn(args[0], _extra(patcher, args[1]))
    if kind == "input_block":
        return fn(args[0], _extra(patcher, args[1]))
    if kind == "output_block":
        return list(fn(args[0], args[1], _extra(patcher, args[2])))
    if kind == "wrapper":
        ref, params = args
        c = dict(params["c"])
        c["transformer_options"] = _extra(patcher, c.get("transformer_options") or {})
        return fn(_apply_model(ref), {**params, "c": c})
    raise ValueError(f"unknown callback kind {kind!r}")


def serve_callback(params: dict[str, Any]) -> Any:
    """The ``callback`` request: ``{"fn", "kind", "owner", "args"}`` decoded, the result encoded."""
    from isolate import host_link

    link = host_link.link()
    call = link.decode(params)
    owner = call["owner"]
    patcher = owner.patcher if isinstance(owner, Kept) else owner
    return link.encode(run_callback(str(call["kind"]), call["fn"], patcher, list(call["args"])))
