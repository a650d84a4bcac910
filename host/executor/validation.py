"""Prompt validation (COMPAT §3.2, §3.3): structure, types, coercion, ranges, combos, VALIDATE_INPUTS, cycles.

Iterative throughout (no recursion, so a 100,000-node chain validates), static cycles detected explicitly.
Returns a coerced copy; the prompt as submitted is never modified.
"""

from __future__ import annotations

import inspect
import traceback
from dataclasses import dataclass, field
from typing import Any

from host.executor.errors import NodeErrors, PromptError, ValidationFailed
from host.executor.graph import PromptGraph, is_link, unwrap_constant
from host.executor.types import types_compatible
from host.registry import BoundNode, Registry
from isolate.nodedef import InputSlot

COERCE = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}
_NUMBER = (int, float)
_NO_SKIP: frozenset[str] = frozenset()
_EMPTY: dict[str, Any] = {}


@dataclass(repr=False)
class ValidatedPrompt:
    """The coerced prompt, the outputs that will run and the errors of the ones that will not."""

    def __repr__(self) -> str:  # short: asyncio and logs repr results, and a prompt can have 100,000 nodes
        return f"ValidatedPrompt({len(self.prompt)} nodes, outputs={self.outputs[:10]})"

    prompt: dict[str, dict[str, Any]]
    outputs: list[str]
    node_errors: dict[str, NodeErrors] = field(default_factory=dict)
    graph: PromptGraph | None = None
    #: every node the outputs reach through any link, producers first
    order: list[str] = field(default_factory=list)
    #: nodes on a cycle through undeclared links (they fail at execution)
    cyclic: set[str] = field(default_factory=set)


def _invalid_prompt(message: str, node_id: str | None = None) -> ValidationFailed:
    details = f"Node ID '#{node_id}'" if node_id is not None else ""
    return ValidationFailed(PromptError("invalid_prompt", message, details, {}))


def check_structure(prompt: Any, registry: Registry, targets: list[str] | None) -> list[str]:
    """Every node is an object with a known ``class_type`` and object ``inputs`` (else ``invalid_prompt``);
    returns the output nodes (those in ``targets`` when given), else raises ``prompt_no_outputs``."""
    if not isinstance(prompt, dict):
        raise _invalid_prompt("Cannot execute because the prompt is not an object.")
    nodes = registry.nodes
    wanted = None if targets is None else {str(t) for t in targets}
    outputs = []
    for nid, node in prompt.items():
        if type(node) is not dict or "class_type" not in node:
            raise _invalid_prompt("Cannot execute because a node is missing the class_type property.", nid)
        class_type = node["class_type"]
        bound = nodes.get(class_type) if type(class_type) is str else None
        if bound is None:
            raise _invalid_prompt(f"Cannot execute because node {class_type} does not exist.", nid)
        if type(node.get("inputs", _EMPTY)) is not dict:
            raise _invalid_prompt(f"Cannot execute because the inputs of node {nid} are not an object.", nid)
        if bound.nodedef.output_node and (wanted is None or nid in wanted):
            outputs.append(nid)
    if not outputs:
        raise ValidationFailed(PromptError("prompt_no_outputs", "Prompt has no outputs", "", {}))
    return outputs


def input_config(slot: InputSlot) -> list[Any]:
    return [slot.combo if slot.type == "COMBO" and "options" not in slot.options else slot.type, slot.options]


class _Validator:
    """One validation pass; ``run`` fills ``errors``, ``coerced`` and ``valid``."""

    def __init__(self, prompt: dict[str, dict[str, Any]], registry: Registry) -> None:
        self.prompt = prompt
        self.nodes = registry.nodes
        self.graph = PromptGraph(prompt, registry.nodes)
        self.errors: dict[str, list[PromptError]] = {}
        self.coerced: dict[str, dict[str, Any]] = dict(prompt)
        self.valid: dict[str, bool] = {}
        self.order: list[str] = []
        self.cyclic: set[str] = set()

    def declared_sources(self, nid: str) -> list[str]:
        return [src for _, src, _, declared in self.graph.links(nid) if declared]

    def flag_cycle(self, cycle: list[str]) -> None:
        err = PromptError("dependency_cycle", "Dependency cycle detected", " -> ".join([*cycle, cycle[0]]),
                          {"cycle": cycle})
        for nid in cycle:
            if not any(e.type == "dependency_cycle" for e in self.errors.get(nid, ())):
                self.errors.setdefault(nid, []).append(err)

    async def run(self, outputs: list[str]) -> None:
        """Validate what the outputs reach through declared links, producers first."""
        self.order, declared_cycles, self.cyclic = self.graph.post_order(outputs)
        for cycle in declared_cycles:
            self.flag_cycle(cycle)
        links = self.graph.links
        wanted = set(outputs)
        for nid in reversed(self.order):
            if nid in wanted:
                for _, src, _, declared in links(nid):
                    if declared:
                        wanted.add(src)
        valid = self.valid
        flagged = self.errors
        for nid in self.order:
            if nid not in wanted:
                continue
            errors, coerced, input_types, bound = self.check_node(nid)
            nd = bound.nodedef
            if nd.has_validate and not errors and (nd.validate_params or nd.validate_kwargs
                                                  or nd.validate_wants_input_types):
                errors += await self.custom_validation(bound, coerced, input_types)
            if flagged and nid in flagged:
                errors = flagged[nid] + errors
            if errors:
                flagged[nid] = errors
                valid[nid] = False
                continue
            ok = True
            for _, src, _, declared in links(nid):
                if declared and not valid.get(src, False):
                    ok = False
                    break
            valid[nid] = ok

    def check_node(self, nid: str) -> tuple[list[PromptError], dict[str, Any], dict[str, str], BoundNode]:
        """The node's own errors, its coerced inputs, the received types of its links, and its class."""
        node = self.prompt[nid]
        bound = self.nodes[node["class_type"]]
        inputs = node.get("inputs") or {}
        nd = bound.nodedef
        skip_checks = _NO_SKIP if not nd.has_validate else (
            set(nd.validate_params) if not nd.validate_kwargs else set(inputs))
        errors: list[PromptError] = []
        coerced = inputs
        input_types: dict[str, str] = {}
        slots = bound.view(inputs) if bound.dynamic else bound
        for name in slots.required:
            if name not in inputs:
                errors.append(PromptError("required_input_missing", "Required input is missing", name,
                                          {"input_name": name}))
        declared = slots.declared
        for name, val in inputs.items():
            slot = declared.get(name)
            if slot is None:
                continue
            if type(val) is list:
                if not self.link_ok(val, slot, nd.validate_wants_input_types):
                    errors += self.check_link(name, val, slot, nd.validate_wants_input_types, input_types)
                elif nd.validate_wants_input_types:
                    input_types[name] = self.received_type(val)
                continue
            new, errs = self.check_constant(name, val, slot, name in skip_checks)
            if errs:
                errors += errs
            elif new is not val or type(new) is not type(val):
                if coerced is inputs:
                    coerced = dict(inputs)
                coerced[name] = new
        if coerced is not inputs:
            self.coerced[nid] = node | {"inputs": coerced}
        return errors, coerced, input_types, bound

    def received_type(self, val: list) -> str:
        return self.nodes[self.prompt[val[0]]["class_type"]].output_types[int(val[1])]

    def link_ok(self, val: list, slot: InputSlot, wants_types: bool) -> bool:
        """The common case, checked fast: a well-formed link to an existing output of a compatible type."""
        if len(val) != 2 or not is_link(val):
            return False
        src = self.prompt.get(val[0])
        if src is None:
            return False
        types = self.nodes[src["class_type"]].output_types
        idx = int(val[1])
        if not 0 <= idx < len(types):
            return False
        return wants_types or types[idx] == slot.type or slot.any_type or self.check_link(
            "", val, slot, False, {}) == []

    def check_link(self, name: str, val: list, slot: InputSlot, wants_types: bool,
                   input_types: dict[str, str]) -> list[PromptError]:
        info = {"input_name": name, "input_config": input_config(slot), "received_value": val}
        if not is_link(val):
            return [PromptError("bad_linked_input",
                                "Bad linked input, must be a length-2 list of [node_id, slot_index]", name, info)]
        src = self.prompt.get(val[0])
        if src is None:
            return [_exception_error(name, val, f"node '{val[0]}' linked from input '{name}' does not exist",
                                     "KeyError")]
        src_bound = self.nodes[src["class_type"]]
        idx = int(val[1])
        if not 0 <= idx < len(src_bound.output_types):
            return [_exception_error(name, val, f"output {idx} of node '{val[0]}' ({src['class_type']}) does "
                                     f"not exist: it has {len(src_bound.output_types)} outputs", "IndexError")]
        received = src_bound.output_types[idx]
        if wants_types:
            input_types[name] = received
            return []
        out = src_bound.nodedef.outputs[idx]
        if types_compatible(received, out.any_type, out.combo is not None, slot):
            return []
        return [PromptError(
            "return_type_mismatch", "Return type mismatch between linked nodes",
            f"{name}, received_type({received}) mismatch input_type({slot.type})",
            {"input_name": name, "input_config": input_config(slot), "received_type": received,
             "linked_node": val})]

    def check_constant(self, name: str, val: Any, slot: InputSlot, skip: bool) -> tuple[Any, list[PromptError]]:
        """The coerced value and the errors of a constant input."""
        val = unwrap_constant(val)
        convert = COERCE.get(slot.type)
        if convert is not None:
            try:
                val = convert(val)
            except Exception as exc:
                return val, [PromptError(
                    "invalid_input_type", f"Failed to convert an input value to a {slot.type} value",
                    f"{name}, {val}, {exc}",
                    {"input_name": name, "input_config": input_config(slot), "received_value": val,
                     "exception_message": str(exc)})]
        if skip or (not slot.options and slot.combo is None):
            return val, []
        return val, _range_errors(name, val, slot)

    async def custom_validation(self, bound: BoundNode, inputs: dict[str, Any],
                                input_types: dict[str, str]) -> list[PromptError]:
        nd = bound.nodedef
        names = list(inputs) if nd.validate_kwargs else [n for n in nd.validate_params if n in inputs]
        kwargs = {n: None if isinstance(inputs[n], list) and is_link(inputs[n]) else inputs[n] for n in names}
        if nd.validate_wants_input_types:
            kwargs["input_types"] = input_types
        try:
            ret = bound.runner.validate(nd.name, kwargs)
            if inspect.isawaitable(ret):
                ret = await ret
        except Exception as exc:
            return [PromptError("exception_during_validation", "Exception when validating node", str(exc),
                                {"exception_type": type(exc).__name__,
                                 "traceback": traceback.format_tb(exc.__traceback__)})]
        if ret is True:
            return []
        # one error per input the method was given, input_types counted (ComfyUI's filtered inputs)
        given = names + ["input_types"] if nd.validate_wants_input_types else names
        suffix = "" if ret is False else f" - {ret}"
        return [PromptError("custom_validation_failed", "Custom validation failed for node", f"{n}{suffix}",
                            {"input_name": n}) for n in (given or [""])]

    def node_errors(self, outputs: list[str]) -> dict[str, NodeErrors]:
        """Per node with errors, the invalid outputs that depend on it."""
        result: dict[str, NodeErrors] = {}
        for out in outputs:
            if self.valid.get(out):
                continue
            seen = {out}
            stack = [out]
            while stack:
                nid = stack.pop()
                if nid in self.errors:
                    entry = result.get(nid)
                    if entry is None:
                        entry = result[nid] = NodeErrors(self.errors[nid], [], self.prompt[nid]["class_type"])
                    entry.dependent_outputs.append(out)
                for src in self.declared_sources(nid):
                    if src not in seen:
                        seen.add(src)
                        stack.append(src)
        return result


def _exception_error(name: str, val: Any, message: str, exc_type: str) -> PromptError:
    return PromptError("exception_during_validation", "Exception when validating node", message,
                       {"exception_type": exc_type, "traceback": [], "input_name": name, "linked_node": val})


def _range_errors(name: str, val: Any, slot: InputSlot) -> list[PromptError]:
    opts = slot.options
    info = {"input_name": name, "input_config": input_config(slot), "received_value": val}
    errors = []
    if isinstance(val, _NUMBER):
        lo, hi = opts.get("min"), opts.get("max")
        if isinstance(lo, _NUMBER) and val < lo:
            errors.append(PromptError("value_smaller_than_min", f"Value {val} smaller than min of {lo}", name, info))
        if isinstance(hi, _NUMBER) and val > hi:
            errors.append(PromptError("value_bigger_than_max", f"Value {val} bigger than max of {hi}", name, info))
    if slot.combo is not None and val not in slot.combo:
        shown: Any = slot.combo
        if len(slot.combo) > 20:
            shown = f"(list of length {len(slot.combo)})"
            info = info | {"input_config": None}
        errors.append(PromptError("value_not_in_list", "Value not in list", f"{name}: '{val}' not in {shown}", info))
    return errors


async def validate_prompt(prompt: Any, registry: Registry,
                          partial_targets: list[str] | None = None) -> ValidatedPrompt:
    """Validate an API-format prompt; raises ValidationFailed (the 400 body) when no output can run."""
    outputs = check_structure(prompt, registry, partial_targets)
    if registry.live:  # combo lists of model files, read again now
        registry.refresh({node["class_type"] for node in prompt.values()})
    v = _Validator(prompt, registry)
    await v.run(outputs)
    good = [o for o in outputs if v.valid.get(o)]
    node_errors = v.node_errors(outputs)
    if not good:
        lines = [e.line() for o in outputs for e in v.errors.get(o, ())]
        raise ValidationFailed(
            PromptError("prompt_outputs_failed_validation", "Prompt outputs failed validation", "\n".join(lines),
                        {}), node_errors)
    return ValidatedPrompt(prompt=v.coerced, outputs=good, node_errors=node_errors, graph=v.graph, order=v.order,
                           cyclic=v.cyclic)
