"""ComfyUI's ``comfy.patcher_extension`` in a pack child: the wrapper and callback kinds (``WrappersMP``,
``CallbacksMP``) and the helpers that record wrappers and callbacks in a ``transformer_options`` dict
(``{"wrappers": {kind: {key: [fn, ...]}}, "callbacks": {...}}``). Like the other patches a pack sets on a MODEL,
they are kept on its clone; the host's sampler does not run them yet (a warning says so when it samples)."""

from __future__ import annotations

from typing import Any


class WrappersMP:
    """Where a wrapper wraps the host's sampling (ComfyUI's names)."""

    OUTER_SAMPLE = "outer_sample"
    PREPARE_SAMPLING = "prepare_sampling"
    SAMPLER_SAMPLE = "sampler_sample"
    PREDICT_NOISE = "predict_noise"
    CALC_COND_BATCH = "calc_cond_batch"
    APPLY_MODEL = "apply_model"
    DIFFUSION_MODEL = "diffusion_model"


class CallbacksMP:
    """When a callback runs (ComfyUI's names)."""

    ON_CLONE = "on_clone"
    ON_LOAD = "on_load_after"
    ON_DETACH = "on_detach_after"
    ON_CLEANUP = "on_cleanup"
    ON_PRE_RUN = "on_pre_run"
    ON_PREPARE_STATE = "on_prepare_state"
    ON_APPLY_HOOKS = "on_apply_hooks"
    ON_REGISTER_ALL_HOOK_PATCHES = "on_register_all_hook_patches"
    ON_INJECT_MODEL = "on_inject_model"
    ON_EJECT_MODEL = "on_eject_model"


def _add(section: str, kind: str, key: str, fn: Any, options: dict[str, Any], is_model_options: bool) -> None:
    if is_model_options:
        options = options.setdefault("transformer_options", {})
    options.setdefault(section, {}).setdefault(kind, {}).setdefault(key, []).append(fn)


def add_wrapper_with_key(wrapper_type: str, key: str, wrapper: Any, transformer_options: dict[str, Any],
                         is_model_options: bool = False) -> None:
    _add("wrappers", wrapper_type, key, wrapper, transformer_options, is_model_options)


def add_callback_with_key(call_type: str, key: str, callback: Any, transformer_options: dict[str, Any],
                          is_model_options: bool = False) -> None:
    _add("callbacks", call_type, key, callback, transformer_options, is_model_options)


def _all(section: str, kind: str, options: dict[str, Any], is_model_options: bool) -> list[Any]:
    if is_model_options:
        options = options.get("transformer_options", {})
    return [fn for fns in options.get(section, {}).get(kind, {}).values() for fn in fns]


def get_all_wrappers(wrapper_type: str, transformer_options: dict[str, Any], is_model_options: bool = False
                     ) -> list[Any]:
    return _all("wrappers", wrapper_type, transformer_options, is_model_options)


def get_all_callbacks(call_type: str, transformer_options: dict[str, Any], is_model_options: bool = False
                      ) -> list[Any]:
    return _all("callbacks", call_type, transformer_options, is_model_options)


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
