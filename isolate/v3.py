"""v3 ``io.ComfyNode`` classes -> NodeDef (COMPAT §5.2, §5.4).

Dynamic inputs (Autogrow, DynamicCombo, DynamicSlot) become one declaration slot each, whose ``dynamic``
field holds what ``isolate.v3_dynamic.finalize_inputs`` needs to expand it against a prompt, as plain data.
"""

from __future__ import annotations

from typing import Any

import msgspec

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
    slots = [input_slot(inp) for inp in schema.inputs]
    slots += [InputSlot(name=h.name, type=h.value, section="hidden", hidden_kind=h.value) for h in schema.hidden]
    has_validate = _overrides(cls, "validate_inputs")
    v_params, v_kwargs, v_types = validate_signature(cls.validate_inputs) if has_validate else ([], False, False)
    info = legacy_info(schema, module) if schema.legacy_object_info else v3_info(schema, module)
    return NodeDef(
        name=schema.node_id, display_name=schema.display_name or schema.node_id, category=schema.category,
        inputs=slots, outputs=[_output_slot(o) for o in schema.outputs], info=info, api="v3",
        python_module=module, output_node=schema.is_output_node, input_is_list=schema.is_input_list,
        not_idempotent=schema.not_idempotent, is_async=is_coroutine_fn(cls.execute),
        enable_expand=schema.enable_expand, has_fingerprint=_overrides(cls, "fingerprint_inputs"),
        has_check_lazy=_overrides(cls, "check_lazy_status"), has_validate=has_validate,
        validate_params=v_params, validate_kwargs=v_kwargs, validate_wants_input_types=v_types, origin=origin,
        has_dynamic=any(isinstance(i, io.DynamicInput) for i in schema.inputs),
        accepts_any_input=bool(schema.accept_all_inputs),
    )


def input_slot(inp: io.Input) -> InputSlot:
    """The InputSlot of a v3 input (a dynamic input's slot carries its declaration in ``dynamic``)."""
    opts = to_json_safe(inp.as_dict())
    io_type = inp.get_io_type()
    combo = opts.get("options") if io_type == "COMBO" and not opts.get("multiselect") else None
    dynamic = _dynamic_spec(inp)
    if isinstance(inp, io.DynamicCombo.Input):
        combo = [o.key for o in inp.options]
    return InputSlot(name=inp.id, type=io_type, section="optional" if inp.optional else "required",
                     options=opts, combo=combo if isinstance(combo, list) else None, any_type=is_any_type(io_type),
                     lazy=bool(inp.lazy), raw_link=bool(inp.raw_link), dynamic=dynamic)


def _builtins(inp: io.Input) -> dict[str, Any]:
    return msgspec.to_builtins(input_slot(inp))


def _dynamic_spec(inp: io.Input) -> dict[str, Any] | None:
    if isinstance(inp, io.Autogrow.Input):
        template = inp.template
        return {"kind": "autogrow", "names": list(template.names), "min": template.min,
                "template": _builtins(template.input)}
    if isinstance(inp, io.DynamicCombo.Input):
        return {"kind": "combo", "options": [{"key": o.key, "inputs": [_builtins(i) for i in o.inputs]}
                                             for o in inp.options]}
    if isinstance(inp, io.DynamicSlot.Input):
        return {"kind": "slot", "slot": _builtins(inp.slot), "inputs": [_builtins(i) for i in inp.inputs]}
    return None


def _output_slot(out: io.Output) -> OutputSlot:
    name = out.display_name or out.get_io_type()
    if isinstance(out, io.Combo.Output):
        return OutputSlot(type="COMBO", name=name, is_list=out.is_output_list, tooltip=out.tooltip,
                          combo=to_json_safe(out.options))
    return parse_output(out.get_io_type(), name, out.is_output_list, out.tooltip)


def v3_info(schema: io.Schema, module: str) -> dict[str, Any]:
    """The v3 ``/object_info`` key set: every key present, null allowed; ``required`` always present."""
    inputs: dict[str, Any] = to_json_safe(io.input_dict_v1(schema.inputs))
    if schema.hidden:
        inputs["hidden"] = {h.name: [h.value] for h in schema.hidden}
    matchtypes = [o.template.template_id if isinstance(o, io.MatchType.Output) else None for o in schema.outputs]
    return {
        "input": inputs, "input_order": {sec: list(v) for sec, v in inputs.items()},
        "output": [o.get_io_type() for o in schema.outputs],
        "output_is_list": [o.is_output_list for o in schema.outputs],
        "output_name": [o.display_name or o.get_io_type() for o in schema.outputs],
        "output_tooltips": [o.tooltip or None for o in schema.outputs],
        "output_matchtypes": matchtypes if any(m is not None for m in matchtypes) else None,
        "name": schema.node_id, "display_name": schema.display_name, "description": schema.description,
        "python_module": module, "category": schema.category, "output_node": schema.is_output_node,
        "deprecated": schema.is_deprecated, "experimental": schema.is_experimental,
        "api_node": schema.is_api_node,
    }


def legacy_info(schema: io.Schema, module: str) -> dict[str, Any]:
    """The v1 key set, as ComfyUI renders a v1 class (for builtin nodes ComfyUI still defines on v1)."""
    inputs: dict[str, Any] = {}
    for inp in schema.inputs:
        opts = to_json_safe(inp.as_dict())
        entry = [inp.get_io_type(), opts] if opts else [inp.get_io_type()]
        inputs.setdefault("optional" if inp.optional else "required", {})[inp.id] = entry
    if schema.hidden:
        inputs["hidden"] = {h.name: h.value for h in schema.hidden}
    info: dict[str, Any] = {
        "input": inputs, "input_order": {sec: list(v) for sec, v in inputs.items()},
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
