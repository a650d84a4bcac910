"""Runs node classes in the current process: builtin nodes in the host, a pack's nodes in its child.

Implements the runner protocol (validate, fingerprint, check_lazy, execute, drop) over v1 classes and v3
``io.ComfyNode`` classes. Node instances (v1) are kept per (node id, class_type) across runs.
"""

from __future__ import annotations

import inspect
from typing import Any

from isolate.api import io
from isolate.calls import NodeCall, NodeResult
from isolate.dynprompt import DynamicPromptView, DynPromptData
from isolate.graph_utils import ExecutionBlocker
from isolate.nodedef import NodeDef
from isolate.v3_dynamic import build_nested_inputs, finalize_inputs


class LocalRunner:
    """One runner for a set of in-process node classes."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._defs: dict[str, NodeDef] = {}
        self._instances: dict[tuple[str, str], Any] = {}
        self._clones: dict[str, type] = {}

    def add(self, nodedef: NodeDef, cls: type) -> None:
        self._classes[nodedef.name] = cls
        self._defs[nodedef.name] = nodedef

    # -- the runner protocol ------------------------------------------------------------------------
    def validate(self, class_type: str, kwargs: dict[str, Any]) -> Any:
        cls = self._classes[class_type]
        nd = self._defs[class_type]
        if nd.api == "v3":
            return cls.validate_inputs(**_nested(nd, kwargs))
        return cls.VALIDATE_INPUTS(**kwargs)

    def fingerprint(self, class_type: str, kwargs: dict[str, Any]) -> Any:
        cls = self._classes[class_type]
        nd = self._defs[class_type]
        if nd.api == "v3":
            return cls.fingerprint_inputs(**_nested(nd, kwargs))
        return cls.IS_CHANGED(**kwargs)

    def check_lazy(self, call: NodeCall) -> Any:
        nd = self._defs[call.class_type]
        if nd.api == "v3":
            inputs = call.inputs
            if nd.has_dynamic:
                inputs = build_nested_inputs(inputs, finalize_inputs(nd, inputs), with_keys=True)
            return self._v3_class(call).check_lazy_status(**inputs)
        return self._instance(call).check_lazy_status(**call.inputs)

    def execute(self, call: NodeCall) -> NodeResult | Any:
        nd = self._defs[call.class_type]
        if nd.api == "v3":
            out = self._v3_class(call).execute(**_nested(nd, call.inputs))
        else:
            kwargs = call.inputs
            if call.hidden:
                hidden = _hidden_values(call.hidden)
                kwargs = kwargs | {s.name: hidden.get(s.hidden_kind) for s in nd.inputs if s.hidden_kind is not None}
            out = getattr(self._instance(call), self._classes[call.class_type].FUNCTION)(**kwargs)
        if inspect.isawaitable(out):
            return _finish(out, nd)
        return normalize_result(out, nd)

    def drop(self, keys: list[tuple[str, str]] | None = None) -> None:
        """Forget node instances: the given (node id, class_type) keys, or all of them."""
        if keys is None:
            self._instances.clear()
        for key in keys or ():
            self._instances.pop(key, None)

    # -- helpers ----------------------------------------------------------------------------------------
    def _instance(self, call: NodeCall) -> Any:
        key = (call.node_id, call.class_type)
        inst = self._instances.get(key)
        if inst is None:
            inst = self._instances[key] = self._classes[call.class_type]()
        return inst

    def _v3_class(self, call: NodeCall) -> type:
        """A clone of the v3 class with ``hidden`` set; sync nodes reuse one clone (they run to completion
        inline, so nothing else can observe it in between), async nodes get their own."""
        cls = self._classes[call.class_type]
        if self._defs[call.class_type].is_async:
            clone = type(cls.__name__, (cls,), {})
        else:
            clone = self._clones.get(call.class_type)
            if clone is None:
                clone = self._clones[call.class_type] = type(cls.__name__, (cls,), {})
        clone.hidden = io.HiddenHolder.from_kinds(_hidden_values(call.hidden)) if call.hidden else _NO_HIDDEN
        return clone


_NO_HIDDEN = io.HiddenHolder()


def _nested(nd: NodeDef, flat: dict[str, Any]) -> dict[str, Any]:
    """v3 nodes with dynamic inputs get their dotted inputs re-nested (``values.value0`` -> ``values``)."""
    if not nd.has_dynamic:
        return flat
    return build_nested_inputs(flat, finalize_inputs(nd, flat))


def _hidden_values(hidden: dict[str, Any]) -> dict[str, Any]:
    """Hidden values as node code sees them: DYNPROMPT data wrapped in a read-only view."""
    dyn = hidden.get("DYNPROMPT")
    if isinstance(dyn, DynPromptData):
        return hidden | {"DYNPROMPT": DynamicPromptView(dyn)}
    return hidden


async def _finish(awaitable: Any, nd: NodeDef) -> NodeResult:
    return normalize_result(await awaitable, nd)


def normalize_result(out: Any, nd: NodeDef) -> NodeResult:
    """Every v1/v3 return form (COMPAT §4.5) as a NodeResult with one value per output slot."""
    if isinstance(out, NodeResult):
        return out
    if isinstance(out, ExecutionBlocker):
        return NodeResult(values=(out,) * len(nd.outputs))
    if isinstance(out, io.NodeOutput):
        if out.block_execution is not None:
            return NodeResult(values=(ExecutionBlocker(out.block_execution),) * len(nd.outputs))
        ui = out.ui.as_dict() if hasattr(out.ui, "as_dict") else out.ui
        return _checked(tuple(out.values), ui, out.expand, nd)
    if isinstance(out, dict):
        result = out.get("result")
        values = tuple(result) if result is not None else (None,) * len(nd.outputs)
        return _checked(values, out.get("ui"), out.get("expand"), nd)
    if out is None:
        return _checked((None,) * len(nd.outputs), None, None, nd)
    if isinstance(out, (tuple, list)):
        return _checked(tuple(out), None, None, nd)
    raise TypeError(f"{nd.name} returned {type(out).__name__}; expected a tuple of {len(nd.outputs)} outputs, "
                    "a dict with 'result'/'ui'/'expand', or io.NodeOutput")


def _checked(values: tuple, ui: Any, expand: Any, nd: NodeDef) -> NodeResult:
    if len(values) > len(nd.outputs) and nd.outputs:
        # more values than RETURN_TYPES: ComfyUI keeps them, but no link can reach past the declared slots
        values = values[:len(nd.outputs)]
    if not values or not nd.outputs:
        values = (None,) * len(nd.outputs)
    elif len(values) < len(nd.outputs):
        # fewer values than RETURN_TYPES (Comfyroll's CR Text Concatenate returns 1 for its 2 outputs): ComfyUI
        # runs the node, and an input linked to a slot it did not return gets None (get_input_data's mark_missing)
        values += tuple([None] if out.is_list else None for out in nd.outputs[len(values):])
    return NodeResult(values=values, ui=ui, expand=expand)
