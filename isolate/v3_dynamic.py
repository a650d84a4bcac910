"""v3 dynamic inputs against a live prompt (COMPAT §5.2): pure functions over NodeDef data.

``finalize_inputs`` turns a node's declaration slots into its concrete slots for one prompt node, with dotted
ids (ComfyUI's ``get_finalized_class_inputs``); ``build_nested_inputs`` re-nests the flat values the executor
gathered under those ids into the keyword arguments ``execute`` takes:

* ``Autogrow`` "values" (prefix "value", max 3) -> slots ``values.value0`` .. ``values.value2`` (the first
  ``min`` required when its template is); ``execute(values={"value0": a, "value1": b})``, ``{}`` when none is
  given.
* ``DynamicCombo`` "mode" -> the selector slot ``mode`` (its ``combo`` = the option keys) plus the chosen
  option's inputs ``mode.<id>``; ``execute(mode={"mode": key, "<id>": ...})``.
* ``DynamicSlot`` "x" -> when ``x`` is in the prompt: the slot itself plus its inputs ``x.<id>``;
  ``execute(x={"x": value, "<id>": ...})``.

Dynamic inputs nest (a combo option may hold an Autogrow, ...). ``MatchType`` and ``MultiType`` inputs are
ordinary slots (``COMFY_MATCHTYPE_V3`` matches any type at validation, as in ComfyUI; ``A,B`` unions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from isolate.nodedef import InputSlot, NodeDef

_Expanded = list[InputSlot]


def finalize_inputs(nodedef: NodeDef, node_inputs: Mapping[str, Any]) -> list[InputSlot]:
    """The node's concrete input slots given one prompt node's ``inputs``; ``nodedef.inputs`` itself when the
    node has no dynamic input. Finalized slots carry ``path`` (where ``execute`` gets the value) and, for
    Autogrow members, ``group``; their ``dynamic`` is None."""
    if not nodedef.has_dynamic:
        return nodedef.inputs
    out: _Expanded = []
    for slot in nodedef.inputs:
        _expand(slot, "", node_inputs, out)
    return out


def _slot(data: dict[str, Any]) -> InputSlot:
    return msgspec.convert(data, InputSlot)


def _expand(slot: InputSlot, prefix: str, live: Mapping[str, Any], out: _Expanded) -> None:
    full = prefix + slot.name
    spec = slot.dynamic
    if spec is None:
        out.append(msgspec.structs.replace(slot, name=full, path=full) if prefix else slot)
    elif spec["kind"] == "autogrow":
        _autogrow(full, spec, out)
    elif spec["kind"] == "combo":
        _combo(slot, full, spec, live, out)
    elif spec["kind"] == "slot":
        _dynamic_slot(slot, full, spec, live, out)
    else:
        raise ValueError(f"input {full!r}: unknown dynamic input kind {spec['kind']!r}")


def _autogrow(full: str, spec: dict[str, Any], out: _Expanded) -> None:
    """Every possible member (so any of them validates); the first ``min`` required if the template is."""
    template = _slot(spec["template"])
    required = template.section == "required"
    for i, name in enumerate(spec["names"]):
        member = f"{full}.{name}"
        section = "required" if required and i < spec["min"] else "optional"
        out.append(msgspec.structs.replace(template, name=member, section=section, path=member, group=full))


def _combo(slot: InputSlot, full: str, spec: dict[str, Any], live: Mapping[str, Any], out: _Expanded) -> None:
    """The selector (validated against the option keys), then the chosen option's inputs."""
    options = spec["options"]
    out.append(msgspec.structs.replace(slot, name=full, path=f"{full}.{slot.name}", dynamic=None,
                                       combo=[o["key"] for o in options]))
    key = live.get(full)
    for option in options:
        if _same_key(option["key"], key):
            for sub in option["inputs"]:
                _expand(_slot(sub), full + ".", live, out)
            return


def _same_key(key: Any, value: Any) -> bool:
    return type(value) in (str, int, float, bool) and key == value


def _dynamic_slot(slot: InputSlot, full: str, spec: dict[str, Any], live: Mapping[str, Any],
                  out: _Expanded) -> None:
    """Only when the slot is given: the slot as its own type, then its inputs."""
    if full not in live:
        return
    inner = _slot(spec["slot"])
    out.append(msgspec.structs.replace(inner, name=full, section="optional", path=f"{full}.{slot.name}"))
    for sub in spec["inputs"]:
        _expand(_slot(sub), full + ".", live, out)


def build_nested_inputs(flat: Mapping[str, Any], slots: list[InputSlot] | None = None, *,
                        with_keys: bool = False) -> dict[str, Any]:
    """Re-nest the flat values of one call for ``execute``.

    ``slots``: the node's ``finalize_inputs`` result; each value whose slot has a ``path`` is placed at that
    dotted path (in slot order), and an Autogrow ``group`` none of whose members is in ``flat`` becomes ``{}``.
    Without ``slots``, every dotted key nests by its dots, and a key that is also a prefix of others nests under
    its own last part (``{"m": k, "m.a": 1}`` -> ``{"m": {"m": k, "a": 1}}``).
    ``with_keys`` (for ``check_lazy_status``): each nested value is ``(value, flat key)``, so the node can name
    the flat input it needs.
    """
    paths, groups = _paths_from_slots(slots) if slots is not None else (_paths_from_keys(flat), {})
    if not paths and not groups:
        return dict(flat)
    result = {k: v for k, v in flat.items() if k not in paths}
    nested: dict[str, Any] = {}
    present: set[str] = set()
    for key, path in paths.items():
        if key in flat:
            _put(nested, path, (flat[key], key) if with_keys else flat[key])
            if key in groups:
                present.add(groups[key])
    for group in dict.fromkeys(groups.values()):
        if group not in present:
            _put(nested, group, ({}, group) if with_keys else {})
    result.update(nested)
    return result


def _paths_from_slots(slots: list[InputSlot]) -> tuple[dict[str, str], dict[str, str]]:
    paths = {s.name: s.path for s in slots if s.path is not None}
    groups = {s.name: s.group for s in slots if s.group is not None}
    return paths, groups


def _paths_from_keys(flat: Mapping[str, Any]) -> dict[str, str]:
    prefixes = {k[:i] for k in flat for i, c in enumerate(k) if c == "."}
    paths = {}
    for key in flat:
        if key in prefixes:
            paths[key] = f"{key}.{key.rsplit('.', 1)[-1]}"
        elif "." in key:
            paths[key] = key
    return paths


def _put(root: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = root
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value
