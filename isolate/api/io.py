"""Our v3 node API (``comfy_api.latest.io``), first cut (COMPAT §5.2).

Written from the documented behaviour: ``ComfyNode`` with ``define_schema``/``execute`` classmethods, an
``io.Schema`` of typed inputs and outputs, ``io.Hidden`` values and ``io.NodeOutput`` results.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "AnyType", "Boolean", "Combo", "ComfyNode", "Float", "Hidden", "HiddenHolder", "Image", "Int", "Latent",
    "Mask", "NodeOutput", "Schema", "String",
]


class Hidden(str, enum.Enum):
    """Values the executor fills in; the member name is the input id, the value the hidden kind."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"


@dataclass
class HiddenHolder:
    """``cls.hidden`` during a v3 call."""

    unique_id: str | None = None
    prompt: Any = None
    extra_pnginfo: Any = None
    dynprompt: Any = None
    auth_token_comfy_org: str | None = None
    api_key_comfy_org: str | None = None

    @classmethod
    def from_kinds(cls, values: dict[str, Any]) -> HiddenHolder:
        return cls(**{h.name: values.get(h.value) for h in Hidden})


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass
class Input:
    """An input slot; ``as_dict`` gives its option dict as ``/object_info`` shows it."""

    id: str
    display_name: str | None = None
    optional: bool = False
    tooltip: str | None = None
    lazy: bool | None = None
    raw_link: bool | None = None
    extra_dict: dict[str, Any] | None = None
    io_type: ClassVar[str] = "*"

    def get_io_type(self) -> str:
        return self.io_type

    def as_dict(self) -> dict[str, Any]:
        d = _drop_none({"display_name": self.display_name, "tooltip": self.tooltip, "lazy": self.lazy,
                        "rawLink": self.raw_link})
        return d | (self.extra_dict or {})


@dataclass
class WidgetInput(Input):
    default: Any = None
    socketless: bool | None = None
    force_input: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | _drop_none(
            {"default": self.default, "socketless": self.socketless, "forceInput": self.force_input})


@dataclass
class Output:
    id: str | None = None
    display_name: str | None = None
    tooltip: str | None = None
    is_output_list: bool = False
    io_type: ClassVar[str] = "*"

    def get_io_type(self) -> str:
        return self.io_type


def _comfytype(io_type: str, input_base: type = Input) -> type:
    """A v3 type: a namespace class with nested ``Input`` and ``Output`` carrying ``io_type``."""
    inp = type("Input", (input_base,), {"io_type": io_type, "__annotations__": {}})
    out = type("Output", (Output,), {"io_type": io_type, "__annotations__": {}})
    return type(io_type, (), {"io_type": io_type, "Input": dataclass(inp), "Output": dataclass(out)})


class Int:
    io_type = "INT"

    @dataclass
    class Input(WidgetInput):
        min: int | None = None
        max: int | None = None
        step: int | None = None
        control_after_generate: bool | None = None
        display_mode: str | None = None
        io_type: ClassVar[str] = "INT"

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _drop_none({
                "min": self.min, "max": self.max, "step": self.step,
                "control_after_generate": self.control_after_generate, "display": self.display_mode})

    Output = _comfytype("INT").Output


class Float:
    io_type = "FLOAT"

    @dataclass
    class Input(WidgetInput):
        min: float | None = None
        max: float | None = None
        step: float | None = None
        round: float | None = None
        display_mode: str | None = None
        io_type: ClassVar[str] = "FLOAT"

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _drop_none({
                "min": self.min, "max": self.max, "step": self.step, "round": self.round,
                "display": self.display_mode})

    Output = _comfytype("FLOAT").Output


class String:
    io_type = "STRING"

    @dataclass
    class Input(WidgetInput):
        multiline: bool | None = False
        placeholder: str | None = None
        dynamic_prompts: bool | None = None
        io_type: ClassVar[str] = "STRING"

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _drop_none({
                "multiline": self.multiline, "placeholder": self.placeholder,
                "dynamicPrompts": self.dynamic_prompts})

    Output = _comfytype("STRING").Output


class Boolean:
    io_type = "BOOLEAN"

    @dataclass
    class Input(WidgetInput):
        label_on: str | None = None
        label_off: str | None = None
        io_type: ClassVar[str] = "BOOLEAN"

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _drop_none({"label_on": self.label_on, "label_off": self.label_off})

    Output = _comfytype("BOOLEAN").Output


class Combo:
    io_type = "COMBO"

    @dataclass
    class Input(WidgetInput):
        options: list[Any] | type[enum.Enum] = field(default_factory=list)
        control_after_generate: bool | None = None
        upload: str | None = None
        image_folder: str | None = None
        io_type: ClassVar[str] = "COMBO"

        def option_list(self) -> list[Any]:
            if isinstance(self.options, type) and issubclass(self.options, enum.Enum):
                return [m.value for m in self.options]
            return list(self.options)

        def as_dict(self) -> dict[str, Any]:
            upload = {self.upload: True} if self.upload else {}
            return super().as_dict() | {"multiselect": False, "options": self.option_list()} | _drop_none({
                "control_after_generate": self.control_after_generate,
                "image_folder": self.image_folder}) | upload

    Output = _comfytype("COMBO").Output


Image = _comfytype("IMAGE")
Mask = _comfytype("MASK")
Latent = _comfytype("LATENT")
AnyType = _comfytype("*")


@dataclass
class Schema:
    """A v3 node's definition. ``legacy_object_info`` (nodehost's own field) renders ``/object_info`` in
    the v1 key set, for builtin nodes that ComfyUI still defines on v1, so clients see the same keys."""

    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False
    python_module: str | None = None
    legacy_object_info: bool = False

    def finalize(self) -> None:
        """Output nodes get the prompt and extra_pnginfo hidden values; unnamed outputs get an id."""
        if self.is_output_node:
            for h in (Hidden.prompt, Hidden.extra_pnginfo):
                if h not in self.hidden:
                    self.hidden.append(h)
        if self.is_api_node:
            for h in (Hidden.auth_token_comfy_org, Hidden.api_key_comfy_org):
                if h not in self.hidden:
                    self.hidden.append(h)
        for i, out in enumerate(self.outputs):
            if out.id is None:
                out.id = f"_{i}_{out.get_io_type()}_"

    def validate(self) -> None:
        for kind, items in (("input", self.inputs), ("output", self.outputs)):
            ids = [x.id for x in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
            if dupes:
                raise ValueError(f"{self.node_id}: duplicate {kind} ids {dupes}")


class NodeOutput:
    """What a v3 ``execute`` returns: output values, an optional ui dict, an optional expansion graph."""

    def __init__(self, *values: Any, ui: Any = None, expand: dict | None = None,
                 block_execution: str | None = None) -> None:
        self.values = values
        self.ui = ui
        self.expand = expand
        self.block_execution = block_execution

    @property
    def result(self) -> tuple[Any, ...] | None:
        return self.values or None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeOutput:
        return cls(*(data.get("result") or ()), ui=data.get("ui"), expand=data.get("expand"))


class ComfyNode:
    """Base of v3 nodes: stateless, every method a classmethod, run on a class clone with ``hidden`` set."""

    hidden: ClassVar[HiddenHolder] = HiddenHolder()

    @classmethod
    def define_schema(cls) -> Schema:
        raise TypeError(f"{cls.__name__} must define define_schema()")

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise TypeError(f"{cls.__name__} must define execute()")
