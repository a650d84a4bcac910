"""NodeDef: one normalized, pure-data description of a node type, whatever API it was written on.

Built where the node's code lives (the host for builtin nodes, an extension child for packs) and sent to the
host as msgspec data: no callables, no live type objects. Everything the executor needs to know about a node
without calling it is decided here, once, when the NodeDef is built.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Section = Literal["required", "optional", "hidden"]

#: Hidden input kinds the executor fills in (COMPAT §4.4).
HIDDEN_KINDS = frozenset(
    {"PROMPT", "DYNPROMPT", "EXTRA_PNGINFO", "UNIQUE_ID", "AUTH_TOKEN_COMFY_ORG", "API_KEY_COMFY_ORG"}
)


class InputSlot(msgspec.Struct, frozen=True):
    """One declared input.

    ``type`` is the slot's type string ("INT", "IMAGE", "A,B", "*", "COMBO"); a legacy combo (a list of
    options given as the type) has type "COMBO" and its options in ``combo``. ``hidden_kind`` is set for
    hidden inputs the executor fills in (PROMPT, UNIQUE_ID, ...); a hidden entry given as a tuple type
    behaves as an ordinary input and has ``hidden_kind`` None.
    """

    name: str
    type: str
    section: Section
    options: dict[str, Any] = {}
    combo: list[Any] | None = None
    any_type: bool = False
    lazy: bool = False
    raw_link: bool = False
    hidden_kind: str | None = None
    #: a v3 dynamic input's declaration (Autogrow, DynamicCombo, DynamicSlot), as plain data; expanded per
    #: prompt by ``isolate.v3_dynamic.finalize_inputs``. None on ordinary and on finalized slots.
    dynamic: dict[str, Any] | None = None
    #: on a finalized slot inside a dynamic input: the dotted path of its value in ``execute``'s nested
    #: keyword arguments (``build_nested_inputs``); None: the value goes in as ``name``.
    path: str | None = None
    #: on a finalized Autogrow member: the Autogrow's dotted id, which is ``{}`` when no member is given.
    group: str | None = None


class OutputSlot(msgspec.Struct, frozen=True):
    """One output: its type string, display name, list flag and tooltip."""

    type: str
    name: str
    is_list: bool = False
    tooltip: str | None = None
    any_type: bool = False
    combo: list[Any] | None = None


class NodeDef(msgspec.Struct, frozen=True):
    """A node type. ``info`` is its ``/object_info`` entry, rendered where the node was defined."""

    name: str
    display_name: str
    category: str
    inputs: list[InputSlot]
    outputs: list[OutputSlot]
    info: dict[str, Any]
    api: Literal["v1", "v3"] = "v1"
    python_module: str = "nodes"
    output_node: bool = False
    input_is_list: bool = False
    not_idempotent: bool = False
    is_async: bool = False
    enable_expand: bool = False
    has_fingerprint: bool = False
    has_check_lazy: bool = False
    has_validate: bool = False
    validate_params: list[str] = []
    validate_kwargs: bool = False
    validate_wants_input_types: bool = False
    origin: str = "builtin"
    #: some input is a v3 dynamic input: the concrete slots come from ``v3_dynamic.finalize_inputs``.
    has_dynamic: bool = False
    #: every constant input of a prompt node reaches the node, declared or not: its INPUT_TYPES section claims
    #: every name (rgthree's ``FlexibleOptionalInputType``, a dict whose ``__contains__`` is always True), or a
    #: v3 schema sets ``accept_all_inputs``; ComfyUI's ``get_input_data`` passes them, as it passes any link.
    accepts_any_input: bool = False


def claims_every_name(section: Any) -> bool:
    """True for an INPUT_TYPES section that answers ``in`` for a name no node declares."""
    return isinstance(section, dict) and "\x00nodehost-probe" in section


def is_any_type(t: Any) -> bool:
    """True for the wildcard type: ``"*"`` or a str subclass that overrides ``__ne__`` (AnyType)."""
    if type(t) is str:
        return t == "*"
    # a str subclass that claims to equal anything (AnyType); an enum like comfy_types.IO also overrides
    # __ne__ but only IO.ANY is a wildcard, so probe with a value no real type equals
    return isinstance(t, str) and (t == "*" or not (t != "\x00nodehost-probe"))


def to_json_safe(value: Any) -> Any:
    """Turn option values into plain JSON data (tuples to lists, str subclasses to str, enums to values)."""
    return msgspec.json.decode(msgspec.json.encode(value, enc_hook=_fallback))


def _fallback(obj: Any) -> Any:
    val = getattr(obj, "value", None)
    if val is not None:
        return val
    return str(obj)


def parse_input(name: str, section: Section, spec: Any) -> InputSlot:
    """Build an InputSlot from an INPUT_TYPES entry (``(TYPE, opts?)``, a combo list, or a hidden kind)."""
    if section == "hidden" and isinstance(spec, str):
        return InputSlot(name=name, type=str(spec), section=section, hidden_kind=str(spec))
    if not isinstance(spec, (tuple, list)) or not spec:
        raise TypeError(f"input {name!r}: expected (TYPE, options) but got {spec!r}")
    raw_type = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    safe_opts = to_json_safe(opts)
    if isinstance(raw_type, (list, tuple)):
        return InputSlot(name=name, type="COMBO", section=section, options=safe_opts,
                         combo=to_json_safe(list(raw_type)))
    combo = safe_opts.get("options") if raw_type == "COMBO" else None
    return InputSlot(
        name=name, type=str(raw_type), section=section, options=safe_opts,
        combo=combo if isinstance(combo, list) else None,
        any_type=is_any_type(raw_type), lazy=bool(opts.get("lazy")), raw_link=bool(opts.get("rawLink")),
    )


def parse_output(raw_type: Any, name: Any, is_list: bool, tooltip: Any) -> OutputSlot:
    if isinstance(raw_type, (list, tuple)):
        return OutputSlot(type="COMBO", name=str(name if name is not None else "COMBO"), is_list=is_list,
                          tooltip=tooltip, combo=to_json_safe(list(raw_type)))
    return OutputSlot(type=str(raw_type), name=str(name if name is not None else raw_type), is_list=is_list,
                      tooltip=tooltip, any_type=is_any_type(raw_type))


def parse_inputs(input_types: dict[str, Any]) -> list[InputSlot]:
    slots: list[InputSlot] = []
    for section in ("required", "optional", "hidden"):
        for name, spec in (input_types.get(section) or {}).items():
            slots.append(parse_input(name, section, spec))
    return slots


NODEDEF_DECODER = msgspec.json.Decoder(NodeDef)


def encode_nodedef(nd: NodeDef) -> bytes:
    return msgspec.json.encode(nd)
