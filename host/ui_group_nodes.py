"""The frontend's legacy group nodes (``extra.groupNodes``), expanded into their inner nodes before conversion,
as the frontend's ``graphToPrompt`` expands them.

A group node definition (``extra.groupNodes[NAME]``) holds its inner ``nodes`` (each with its ``index``), the
``links`` between them (``[origin index or null, origin slot, target index, target slot, link id, type]``; a null
origin is an input fed from outside) and ``external`` (``[index, slot, type]``: inner outputs also used outside).
A node of type ``workflow>NAME`` (``workflow/NAME`` in older files) is an instance:

- its inner nodes become nodes ``<instance id>:<index>``, each with its own mode from the definition: the
  frontend (1.35.9) queues a muted or bypassed instance's inner nodes all the same, and so does this;
- its ``widgets_values`` are the inner nodes' widgets one after the other (inner node order, each node's widget
  inputs in ``/object_info`` order with the ``control_after_generate`` value after a seed), leaving out widgets
  whose input is linked inside the group (one linked from outside keeps its value, the link wins);
- its inputs are the inner nodes' non-widget inputs that no link inside the group feeds, in inner node order;
- its outputs are the inner nodes' outputs that are not only linked inside the group (linked inside and used
  outside, i.e. ``external``, or not linked inside at all), in inner node order.
"""

from __future__ import annotations

import copy
from typing import Any

PREFIXES = ("workflow>", "workflow/")


def group_name(node_type: Any, groups: dict[str, Any]) -> str | None:
    if isinstance(node_type, str):
        for prefix in PREFIXES:
            if node_type.startswith(prefix) and node_type[len(prefix):] in groups:
                return node_type[len(prefix):]
    return None


def expand_group_nodes(workflow: dict[str, Any], object_info: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """A copy of ``workflow`` with every group node instance replaced by its inner nodes (``problems`` gets
    what cannot be expanded: an inner node type that does not exist)."""
    groups = (workflow.get("extra") or {}).get("groupNodes") or {}
    if not groups:
        return workflow
    out = copy.deepcopy(workflow)
    links = [_as_list(raw) for raw in out.get("links") or []]
    next_link = max((int(raw[0]) for raw in links), default=0) + 1
    nodes = []
    for node in out["nodes"]:
        name = group_name(node.get("type"), groups)
        if name is None:
            nodes.append(node)
            continue
        inner, outputs, new_links, next_link = _instance(node, groups[name], object_info, next_link, problems)
        nodes += inner
        links += new_links
        gid = str(node["id"])
        for raw in links:  # links leaving the instance leave its inner node now
            if str(raw[1]) == gid and int(raw[2]) < len(outputs):
                raw[1], raw[2] = outputs[int(raw[2])]
    out["nodes"], out["links"] = nodes, links
    return out


def _as_list(raw: Any) -> list[Any]:
    if isinstance(raw, dict):
        return [raw["id"], raw["origin_id"], raw["origin_slot"], raw["target_id"], raw["target_slot"], raw.get("type")]
    return list(raw)


def _instance(node: dict[str, Any], definition: dict[str, Any], object_info: dict[str, Any], next_link: int,
              problems: list[str]) -> tuple[list[dict[str, Any]], list[tuple[str, int]], list[list[Any]], int]:
    gid = str(node["id"])
    inner_nodes = sorted(definition.get("nodes") or [], key=lambda n: n.get("index", 0))
    from host.ui_workflow import widget_inputs, widget_values

    inside: dict[tuple[int, int], tuple[Any, int, Any]] = {}  # (target, slot) -> (origin or None, slot, type)
    for raw in definition.get("links") or []:
        inside[(int(raw[2]), int(raw[3]))] = (raw[0], int(raw[1]), raw[5] if len(raw) > 5 else None)
    linked_out = {(int(o), os_) for (o, os_, _) in inside.values() if o is not None}
    external = {(int(e[0]), int(e[1])) for e in definition.get("external") or []}
    values = list(node.get("widgets_values") or []) if isinstance(node.get("widgets_values"), list) else []
    outer_inputs = [i for i in node.get("inputs") or [] if not i.get("widget")]
    outer_widgets = [i for i in node.get("inputs") or [] if i.get("widget") and i.get("link") is not None]
    made, outputs, new_links = [], [], []
    for position, inner in enumerate(inner_nodes):
        index = int(inner.get("index", position))
        type_ = inner.get("type")
        info = object_info.get(type_)
        if info is None:
            problems.append(f"group node {gid}: inner node {index} has unknown node type {type_!r}")
            continue
        new = copy.deepcopy(inner)
        new["id"] = f"{gid}:{index}"
        new.pop("index", None)
        slots = new.get("inputs") or []
        linked_widgets = {s.get("widget", {}).get("name") for i, s in enumerate(slots)
                          if s.get("widget") and (index, i) in inside and inside[(index, i)][0] is not None}
        own = widget_values(inner, info)
        chosen = {}
        for name, control in widget_inputs(info):
            if name in linked_widgets:
                continue
            if values:
                chosen[name] = values.pop(0)
                if control and values:
                    values.pop(0)
            elif name in own:
                chosen[name] = own[name]
        new["widgets_values"] = chosen
        for i, slot in enumerate(slots):
            source = inside.get((index, i))
            if source is not None and source[0] is not None:
                new_links.append([next_link, f"{gid}:{int(source[0])}", source[1], new["id"], i,
                                  source[2] or slot.get("type")])
                slot["link"] = next_link
                next_link += 1
            elif slot.get("widget"):
                outer = next((o for o in outer_widgets if o["widget"].get("name") == slot["widget"].get("name")),
                             None)
                slot["link"] = outer.get("link") if outer is not None else None
            else:
                outer = outer_inputs.pop(0) if outer_inputs else {}
                slot["link"] = outer.get("link")
        for slot in range(len(new.get("outputs") or [])):
            if (index, slot) in external or (index, slot) not in linked_out:
                outputs.append((new["id"], slot))
        made.append(new)
    return made, outputs, new_links, next_link
