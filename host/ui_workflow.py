"""The workflow format the web frontend saves (``nodes``, ``links``, ``widgets_values``) converted to an API prompt
the way the frontend's ``graphToPrompt`` converts it, given ``/object_info``:

- widget values are matched to the node's widget inputs in ``/object_info`` order (required, then optional);
  an INT input with ``control_after_generate`` (or named ``seed``/``noise_seed``) has one more value after it
  (``fixed``/``randomize``...), which is skipped; a widget input that is linked takes the link instead;
- ``Reroute`` nodes are followed to their source, a ``PrimitiveNode``'s value is written into each input it
  feeds, ``Note``/``MarkdownNote`` are dropped;
- muted nodes (mode 2) are left out, with the inputs they fed; bypassed nodes (mode 4) pass their input of the
  same type through;
- subgraphs (``definitions.subgraphs``) are flattened, inner nodes numbered ``instance:inner``; legacy group
  nodes (``extra.groupNodes``) are expanded first (host/ui_group_nodes.py), inner nodes ``instance:index``.

Unknown node types and links to nodes that do not exist raise :class:`UIWorkflowError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MUTED, BYPASSED = 2, 4
VIRTUAL = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20


class UIWorkflowError(ValueError):
    """A UI workflow that cannot become a prompt; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def is_ui_workflow(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


@dataclass(frozen=True)
class Link:
    origin: str
    origin_slot: int
    target: str
    target_slot: int
    type: str


def _link(raw: Any) -> tuple[int, Link]:
    if isinstance(raw, dict):
        raw = [raw["id"], raw["origin_id"], raw["origin_slot"], raw["target_id"], raw["target_slot"], raw.get("type")]
    link_id, origin, origin_slot, target, target_slot, type_ = raw[:6]
    return int(link_id), Link(str(origin), int(origin_slot), str(target), int(target_slot), str(type_))


def widget_inputs(info: dict[str, Any]) -> list[tuple[str, bool]]:
    """The node's widget inputs in order, each with whether a control value (``fixed``...) follows it."""
    found = []
    for section in ("required", "optional"):
        for name, spec in (info.get("input", {}).get(section) or {}).items():
            type_, options = spec[0], (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
            if (isinstance(type_, list) or type_ in WIDGET_TYPES) and not options.get("forceInput"):
                control = options.get("control_after_generate", type_ == "INT" and name in ("seed", "noise_seed"))
                found.append((name, bool(control) and type_ in ("INT", "FLOAT")))
    return found


def widget_values(node: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    values = node.get("widgets_values")
    if isinstance(values, dict):  # some nodes save their widgets by name
        return {name: values[name] for name, _ in widget_inputs(info) if name in values}
    values, out, i = list(values or []), {}, 0
    for name, control in widget_inputs(info):
        if i >= len(values):
            break
        out[name] = values[i]
        i += 2 if control else 1
    return out


class Graph:
    """One graph level (the workflow, or a subgraph's definition inside one instance), with its ids prefixed."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.prefix = prefix
        self.nodes = {str(n["id"]): n for n in data.get("nodes", [])}
        self.links = dict(_link(raw) for raw in data.get("links") or [])

    def node_id(self, local: str) -> str:
        return f"{self.prefix}{local}"


class Converter:
    def __init__(self, workflow: dict[str, Any], object_info: dict[str, dict[str, Any]]) -> None:
        self.info = object_info
        self.subgraphs = {s["id"]: s for s in (workflow.get("definitions") or {}).get("subgraphs", [])}
        self.prompt: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    def convert(self, graph: Graph, outer: dict[int, Any] | None = None) -> dict[int, Any]:
        """Emit every real node of ``graph``; the values feeding the subgraph's outputs (slot -> value)."""
        self.outer = outer or {}
        for local, node in graph.nodes.items():
            type_ = node.get("type")
            if node.get("mode") in (MUTED, BYPASSED) or type_ in VIRTUAL or type_ in self.subgraphs:
                continue
            if type_ not in self.info:
                self.problems.append(f"node {graph.node_id(local)}: unknown node type {type_!r}")
                continue
            inputs = widget_values(node, self.info[type_])
            for inp in node.get("inputs") or []:
                if inp.get("link") is None:
                    continue
                value = self.source(graph, inp["link"], f"node {graph.node_id(local)} input {inp.get('name')!r}")
                if value is not None:
                    inputs[inp["name"]] = value
                elif inp.get("widget") is None:
                    inputs.pop(inp["name"], None)
            self.prompt[graph.node_id(local)] = {"inputs": inputs, "class_type": type_,
                                                 "_meta": {"title": node.get("title") or self.title(type_)}}
        for local, node in graph.nodes.items():
            if node.get("type") in self.subgraphs and node.get("mode") not in (MUTED, BYPASSED):
                self.expand(graph, local, node)
        return {}

    def title(self, type_: str) -> str:
        return str(self.info.get(type_, {}).get("display_name") or type_)

    def source(self, graph: Graph, link_id: int, where: str) -> Any:
        """What a link delivers: ``[node, slot]``, a primitive's value, or None (muted, or nothing)."""
        link = graph.links.get(int(link_id))
        if link is None:
            self.problems.append(f"{where}: link {link_id} does not exist")
            return None
        if link.origin == str(SUBGRAPH_INPUT):
            return self.outer.get(link.origin_slot)
        origin = graph.nodes.get(link.origin)
        if origin is None:
            self.problems.append(f"{where}: linked to node {link.origin}, which does not exist")
            return None
        type_, mode = origin.get("type"), origin.get("mode")
        if type_ == "PrimitiveNode":
            values = origin.get("widgets_values") or []
            return values[0] if values else None
        if type_ == "Reroute" or mode == BYPASSED:
            inputs = origin.get("inputs") or []
            passing = [i for i in inputs if i.get("link") is not None
                       and (type_ == "Reroute" or i.get("type") in (link.type, "*"))]
            return self.source(graph, passing[0]["link"], where) if passing else None
        if mode == MUTED:
            return None
        if type_ in self.subgraphs:
            return [f"{graph.node_id(link.origin)}:", link.origin_slot]  # resolved after the instance expands
        return [graph.node_id(link.origin), link.origin_slot]

    def expand(self, graph: Graph, local: str, node: dict[str, Any]) -> None:
        definition = self.subgraphs[node["type"]]
        outer = {}
        for slot, inp in enumerate(node.get("inputs") or []):
            if inp.get("link") is not None:
                outer[slot] = self.source(graph, inp["link"], f"subgraph {graph.node_id(local)} input {slot}")
        inner = Graph(definition, prefix=f"{graph.node_id(local)}:")
        saved = self.outer
        self.convert(inner, outer)
        self.outer = saved
        outputs = {}
        for link in inner.links.values():
            if link.target == str(SUBGRAPH_OUTPUT):
                outputs[link.target_slot] = [inner.node_id(link.origin), link.origin_slot]
        placeholder = f"{graph.node_id(local)}:"
        for entry in self.prompt.values():  # links from this instance's outputs point into it now
            for name, value in entry["inputs"].items():
                if isinstance(value, list) and len(value) == 2 and value[0] == placeholder:
                    entry["inputs"][name] = outputs.get(value[1])


def to_prompt(workflow: dict[str, Any], object_info: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The API prompt the frontend would queue for ``workflow``; UIWorkflowError listing every problem."""
    from host.ui_group_nodes import expand_group_nodes

    problems: list[str] = []
    workflow = expand_group_nodes(workflow, object_info, problems)
    if problems:
        raise UIWorkflowError(problems)
    converter = Converter(workflow, object_info)
    converter.convert(Graph(workflow))
    if converter.problems:
        raise UIWorkflowError(converter.problems)
    return converter.prompt


__all__ = ["UIWorkflowError", "is_ui_workflow", "to_prompt", "widget_inputs", "widget_values"]
