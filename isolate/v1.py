"""The v1 node API: a plain class with INPUT_TYPES / RETURN_TYPES / FUNCTION (COMPAT §5.1) -> NodeDef."""

from __future__ import annotations

import inspect
from typing import Any

from isolate.nodedef import NodeDef, claims_every_name, parse_inputs, parse_output, to_json_safe


def validate_signature(fn: Any) -> tuple[list[str], bool, bool]:
    """(parameter names, takes **kwargs, wants input_types) of a VALIDATE_INPUTS-like callable."""
    params = inspect.signature(fn).parameters
    names = [n for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in ("self", "cls")]
    kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return [n for n in names if n != "input_types"], kwargs, "input_types" in names


def is_coroutine_fn(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn)


def nodedef_from_v1(name: str, cls: type, display_name: str | None = None,
                    python_module: str = "nodes", origin: str = "builtin") -> NodeDef:
    """Read every v1 attribute of ``cls`` into a NodeDef; ``info`` is its v1 ``/object_info`` entry."""
    input_types = cls.INPUT_TYPES()
    if not isinstance(input_types, dict):
        raise TypeError(f"{name}.INPUT_TYPES() must return a dict, got {type(input_types).__name__}")
    slots = parse_inputs(input_types)
    return_types = tuple(getattr(cls, "RETURN_TYPES", ()))
    names = tuple(getattr(cls, "RETURN_NAMES", None) or return_types)
    is_list = tuple(getattr(cls, "OUTPUT_IS_LIST", None) or (False,) * len(return_types))
    tooltips = tuple(getattr(cls, "OUTPUT_TOOLTIPS", None) or (None,) * len(return_types))
    outputs = [parse_output(t, names[i] if i < len(names) else None,
                            bool(is_list[i]) if i < len(is_list) else False,
                            tooltips[i] if i < len(tooltips) else None)
               for i, t in enumerate(return_types)]
    function = getattr(cls, "FUNCTION", None)
    if not isinstance(function, str) or not hasattr(cls, function):
        raise TypeError(f"{name}: FUNCTION {function!r} is not a method of the class")
    validate = getattr(cls, "VALIDATE_INPUTS", None)
    v_params, v_kwargs, v_types = validate_signature(validate) if validate else ([], False, False)
    category = getattr(cls, "CATEGORY", "sd")
    display = display_name or name
    info = _v1_info(name, display, cls, input_types, return_types, names, is_list, python_module, category)
    return NodeDef(
        name=name, display_name=display, category=category, inputs=slots, outputs=outputs, info=info,
        api="v1", python_module=python_module, output_node=bool(getattr(cls, "OUTPUT_NODE", False)),
        input_is_list=bool(getattr(cls, "INPUT_IS_LIST", False)),
        not_idempotent=bool(getattr(cls, "NOT_IDEMPOTENT", False)),
        is_async=is_coroutine_fn(getattr(cls, function)),
        has_fingerprint=hasattr(cls, "IS_CHANGED"), has_check_lazy=hasattr(cls, "check_lazy_status"),
        has_validate=validate is not None, validate_params=v_params, validate_kwargs=v_kwargs,
        validate_wants_input_types=v_types, origin=origin,
        accepts_any_input=any(claims_every_name(input_types.get(sec)) for sec in ("required", "optional")),
    )


def _v1_info(name: str, display: str, cls: type, input_types: dict[str, Any], return_types: tuple,
             names: tuple, is_list: tuple, python_module: str, category: str) -> dict[str, Any]:
    """The v1 ``/object_info`` entry (COMPAT §5.4): INPUT_TYPES verbatim, optional keys only when set."""
    info: dict[str, Any] = {
        "input": to_json_safe(input_types),
        "input_order": {sec: list(v.keys()) for sec, v in input_types.items() if isinstance(v, dict)},
        "output": to_json_safe(list(return_types)),
        "output_is_list": [bool(x) for x in is_list],
        "output_name": to_json_safe(list(names)),
        "name": name,
        "display_name": display,
        "description": getattr(cls, "DESCRIPTION", ""),
        "python_module": python_module,
        "category": category,
        "output_node": bool(getattr(cls, "OUTPUT_NODE", False)),
    }
    if hasattr(cls, "OUTPUT_TOOLTIPS"):
        info["output_tooltips"] = to_json_safe(list(cls.OUTPUT_TOOLTIPS))
    for attr, key in (("DEPRECATED", "deprecated"), ("EXPERIMENTAL", "experimental"), ("API_NODE", "api_node")):
        if getattr(cls, attr, False):
            info[key] = True
    return info
