"""v3 ``io.ComfyNode`` classes -> NodeDef (COMPAT §5.2, §5.4)."""

from __future__ import annotations

from typing import Any

from isolate.api import io
from isolate.nodedef import InputSlot, NodeDef, OutputSlot, is_any_type, parse_output, to_json_safe
from isolate.v1 import is_coroutine_fn, validate_signature


def _overrides(cls: type, name: str) -> bool:
    return name in {k for klass in cls.__mro__ if klass is not io.ComfyNode for k in vars(klass)}


def nodedef_from_v3(cls: type[io.ComfyNode], origin: str = "builtin",
                    python_module: str = "nodes") -> NodeDef:
    schema = cls.define_schema()
    schema.finalize()
    schema.validate()
    module = schema.python_module or python_module
    slots = [_input_slot(inp) for inp in schema.inputs]
    slots += [InputSlot(name=h.name, type=h.value, section="hidden", hidden_kind=h.value) for h in schema.hidden]
    outputs: list[OutputSlot] = [
        parse_output(o.get_io_type(), o.display_name or o.get_io_type(), o.is_output_list, o.tooltip)
        for o in schema.outputs]
    has_validate = _overrides(cls, "validate_inputs")
    v_params, v_kwargs, v_types = validate_signature(cls.validate_inputs) if has_validate else ([], False, False)
    info = _legacy_info(schema, module) if schema.legacy_object_info else _v3_info(schema, module)
    return NodeDef(
        name=schema.node_id, display_name=schema.display_name or schema.node_id, category=schema.category,
        inputs=slots, outputs=outputs, info=info, api="v3", python_module=module,
        output_node=schema.is_output_node, input_is_list=schema.is_input_list,
        not_idempotent=schema.not_idempotent, is_async=is_coroutine_fn(cls.execute),
        enable_expand=schema.enable_expand, has_fingerprint=_overrides(cls, "fingerprint_inputs"),
        has_check_lazy=_overrides(cls, "check_lazy_status"), has_validate=has_validate,
        validate_params=v_params, validate_kwargs=v_kwargs, validate_wants_input_types=v_types, origin=origin,
    )


def _input_slot(inp: io.Input) -> InputSlot:
    opts = to_json_safe(inp.as_dict())
    io_type = inp.get_io_type()
    combo = opts.get("options") if io_type == "COMBO" else None
    return InputSlot(name=inp.id, type=io_type, section="optional" if inp.optional else "required",
                     options=opts, combo=combo, any_type=is_any_type(io_type), lazy=bool(inp.lazy),
                     raw_link=bool(inp.raw_link))


def _sections(schema: io.Schema, render: Any, hidden_value: Any) -> tuple[dict, dict]:
    inputs: dict[str, dict[str, Any]] = {}
    for inp in schema.inputs:
        inputs.setdefault("optional" if inp.optional else "required", {})[inp.id] = render(inp)
    if schema.hidden:
        inputs["hidden"] = {h.name: hidden_value(h) for h in schema.hidden}
    order = {sec: list(v) for sec, v in inputs.items()}
    return inputs, order


def _v3_info(schema: io.Schema, module: str) -> dict[str, Any]:
    """The v3 key set: every key present, null allowed."""
    inputs, order = _sections(schema, lambda i: [i.get_io_type(), to_json_safe(i.as_dict())],
                              lambda h: [h.value])
    return {
        "input": inputs, "input_order": order,
        "output": [o.get_io_type() for o in schema.outputs],
        "output_is_list": [o.is_output_list for o in schema.outputs],
        "output_name": [o.display_name or o.get_io_type() for o in schema.outputs],
        "output_tooltips": [o.tooltip for o in schema.outputs],
        "output_matchtypes": None,
        "name": schema.node_id, "display_name": schema.display_name, "description": schema.description,
        "python_module": module, "category": schema.category, "output_node": schema.is_output_node,
        "deprecated": schema.is_deprecated, "experimental": schema.is_experimental,
        "api_node": schema.is_api_node,
    }


def _legacy_info(schema: io.Schema, module: str) -> dict[str, Any]:
    """The v1 key set, as ComfyUI renders a v1 class."""

    def render(i: io.Input) -> list[Any]:
        opts = to_json_safe(i.as_dict())
        return [i.get_io_type(), opts] if opts else [i.get_io_type()]

    inputs, order = _sections(schema, render, lambda h: h.value)
    info: dict[str, Any] = {
        "input": inputs, "input_order": order,
        "output": [o.get_io_type() for o in schema.outputs],
        "output_is_list": [o.is_output_list for o in schema.outputs],
        "output_name": [o.display_name or o.get_io_type() for o in schema.outputs],
        "name": schema.node_id, "display_name": schema.display_name or schema.node_id,
        "description": schema.description, "python_module": module, "category": schema.category,
        "output_node": schema.is_output_node,
    }
    if any(o.tooltip for o in schema.outputs):
        info["output_tooltips"] = [o.tooltip for o in schema.outputs]
    for flag, key in ((schema.is_deprecated, "deprecated"), (schema.is_experimental, "experimental"),
                      (schema.is_api_node, "api_node")):
        if flag:
            info[key] = True
    return info
