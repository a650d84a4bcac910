"""Inputs whose shape depends on the prompt or on the types linked to them (COMPAT §5.2).

``MultiType`` (a socket accepting several types), ``MatchType`` (sockets sharing one type the frontend
resolves), and the dynamic inputs that expand against the live prompt into dotted ids: ``Autogrow``,
``DynamicCombo``, ``DynamicSlot``. The expansion itself is pure data work in ``isolate/v3_dynamic.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from isolate.api._base import (
    ComfyTypeI,
    ComfyTypeIO,
    Input,
    Output,
    WidgetInput,
    _ComfyType,
    comfytype,
    input_dict_v1,
    prune_dict,
)
from isolate.api._types import AnyType


def _io_type_of(t: Any) -> str:
    io_type = getattr(t, "io_type", None)
    if not isinstance(io_type, str):
        raise TypeError(f"expected a ComfyType (io.Int, io.Image, ...), got {t!r}")
    return io_type


@comfytype(io_type="COMFY_MULTITYPED_V3")
class MultiType(ComfyTypeI):
    """A socket accepting several types: its io type is the comma-joined union."""

    class Input(Input):
        """``id`` may be another type's Input: its widget options are kept, and it is listed first."""

        def __init__(self, id: str | Input, types: list[Any], display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            self.input_override: Input | None = None
            if isinstance(id, Input):
                override = self.input_override = copy.copy(id)
                optional = True if override.optional else optional
                tooltip = override.tooltip if override.tooltip is not None else tooltip
                display_name = override.display_name if override.display_name is not None else display_name
                lazy = override.lazy if override.lazy is not None else lazy
                if isinstance(override, WidgetInput):
                    override.widget_type = override.get_io_type()
                id = override.id
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
            self._types = list(types)

        @property
        def io_types(self) -> list[str]:
            return [_io_type_of(t) for t in self._types]

        def get_io_type(self) -> str:
            names = self.io_types
            if self.input_override is not None:
                names.insert(0, self.input_override.get_io_type())
            return ",".join(dict.fromkeys(names))

        def as_dict(self) -> dict[str, Any]:
            if self.input_override is not None:
                return self.input_override.as_dict() | super().as_dict()
            return super().as_dict()


@comfytype(io_type="COMFY_MATCHTYPE_V3")
class MatchType(ComfyTypeIO):
    """Inputs and outputs sharing one ``Template`` take the same type, resolved by the frontend."""

    class Template:
        def __init__(self, template_id: str, allowed_types: Any = AnyType) -> None:
            self.template_id = template_id
            if not isinstance(allowed_types, Iterable) or isinstance(allowed_types, (str, type)):
                allowed_types = [allowed_types]
            for t in allowed_types:
                if not (isinstance(t, _ComfyType) or (isinstance(t, type) and issubclass(t, _ComfyType))):
                    raise ValueError(f"allowed types must be ComfyTypes, got {t!r}")
            self.allowed_types = list(allowed_types)

        def as_dict(self) -> dict[str, Any]:
            return {"template_id": self.template_id,
                    "allowed_types": ",".join(_io_type_of(t) for t in self.allowed_types)}

    class Input(Input):
        def __init__(self, id: str, template: MatchType.Template, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
            self.template = template

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"template": self.template.as_dict()}

    class Output(Output):
        def __init__(self, template: MatchType.Template, id: str | None = None, display_name: str | None = None,
                     tooltip: str | None = None, is_output_list: bool = False) -> None:
            if not id and not display_name:
                display_name = "MATCHTYPE"
            super().__init__(id, display_name, tooltip, is_output_list)
            self.template = template

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"template": self.template.as_dict()}


class DynamicInput(Input):
    """Base of inputs that expand against the live prompt (Autogrow, DynamicCombo, DynamicSlot)."""


class DynamicOutput(Output):
    """Base of dynamic outputs (declared for API parity; none exist yet)."""


_MAX_NAMES = 100


class _AutogrowTemplate:
    """The input an Autogrow repeats; a widget input is forced to a socket."""

    def __init__(self, input: Input) -> None:
        if isinstance(input, DynamicInput):
            raise TypeError("an Autogrow template cannot itself be a dynamic input")
        self.input = copy.copy(input)
        if isinstance(self.input, WidgetInput):
            self.input.force_input = True
        self.names: list[str] = []
        self.min = 1

    def get_all(self) -> list[Input]:
        inputs = []
        for name in self.names:
            each = copy.copy(self.input)
            each.id = name
            inputs.append(each)
        return inputs

    def as_dict(self) -> dict[str, Any]:
        return {"input": input_dict_v1([self.input])}

    def validate(self) -> None:
        self.input.validate()


@comfytype(io_type="COMFY_AUTOGROW_V3")
class Autogrow(ComfyTypeI):
    """A group of sockets that grows as they are connected; ``execute`` gets ``{name: value}``."""

    Type = dict[str, Any]
    _MaxNames = _MAX_NAMES

    class TemplatePrefix(_AutogrowTemplate):
        """Members ``{prefix}0`` .. ``{prefix}{max-1}``; the first ``min`` are required."""

        def __init__(self, input: Input, prefix: str, min: int = 1, max: int = 10) -> None:
            super().__init__(input)
            if min < 0 or not 1 <= max <= _MAX_NAMES:
                raise ValueError(f"Autogrow needs 0 <= min and 1 <= max <= {_MAX_NAMES} (got {min}, {max})")
            self.prefix, self.min, self.max = prefix, min, max
            self.names = [f"{prefix}{i}" for i in range(max)]

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"prefix": self.prefix, "min": self.min, "max": self.max}

    class TemplateNames(_AutogrowTemplate):
        """Members named by ``names`` (at most 100); the first ``min`` are required."""

        def __init__(self, input: Input, names: list[str], min: int = 1) -> None:
            super().__init__(input)
            if min < 0:
                raise ValueError(f"Autogrow needs 0 <= min (got {min})")
            self.names = list(names)[:_MAX_NAMES]
            self.min = min

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"names": self.names, "min": self.min}

    class Input(DynamicInput):
        def __init__(self, id: str, template: Autogrow.TemplatePrefix | Autogrow.TemplateNames,
                     display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, extra_dict: dict[str, Any] | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self.template = template

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"template": self.template.as_dict()}

        def get_all(self) -> list[Input]:
            return [self, *self.template.get_all()]

        def validate(self) -> None:
            self.template.validate()


def _check_unique(owner: str, inputs: list[Input]) -> None:
    ids = [i.id for i in inputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{owner}: input ids must be unique, but {dupes} are not")


@comfytype(io_type="COMFY_DYNAMICCOMBO_V3")
class DynamicCombo(ComfyTypeI):
    """A dropdown whose chosen option brings its own inputs; ``execute`` gets ``{id: key, sub_id: ...}``."""

    Type = dict[str, Any]

    class Option:
        def __init__(self, key: str, inputs: list[Input]) -> None:
            self.key = key
            self.inputs = list(inputs)

        def as_dict(self) -> dict[str, Any]:
            return {"key": self.key, "inputs": input_dict_v1(self.inputs)}

    class Input(DynamicInput):
        def __init__(self, id: str, options: list[DynamicCombo.Option], display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict[str, Any] | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
            self.options = list(options)

        def get_all(self) -> list[Input]:
            return [self, *(i for option in self.options for i in option.inputs)]

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"options": [o.as_dict() for o in self.options]}

        def validate(self) -> None:
            keys = [o.key for o in self.options]
            if len(set(keys)) != len(keys):
                raise ValueError(f"DynamicCombo {self.id!r}: option keys must be unique")
            for option in self.options:
                _check_unique(f"DynamicCombo {self.id!r} option {option.key!r}", option.inputs)
                for i in option.inputs:
                    i.validate()


@comfytype(io_type="COMFY_DYNAMICSLOT_V3")
class DynamicSlot(ComfyTypeI):
    """A socket that, once connected, brings more inputs; always optional."""

    Type = dict[str, Any]

    class Input(DynamicInput):
        def __init__(self, slot: Input, inputs: list[Input], display_name: str | None = None,
                     tooltip: str | None = None, lazy: bool | None = None,
                     extra_dict: dict[str, Any] | None = None) -> None:
            if isinstance(slot, DynamicInput):
                raise TypeError("a DynamicSlot's slot cannot itself be a dynamic input")
            self.slot = copy.copy(slot)
            self.slot.display_name = slot.display_name if slot.display_name is not None else display_name
            self.slot.tooltip = slot.tooltip if slot.tooltip is not None else tooltip
            self.slot.lazy = slot.lazy if slot.lazy is not None else lazy
            self.slot.extra_dict = slot.extra_dict if slot.extra_dict else (extra_dict or {})
            self.slot.optional = True
            super().__init__(slot.id, self.slot.display_name, True, self.slot.tooltip, self.slot.lazy,
                             self.slot.extra_dict)
            self.inputs = list(inputs)
            self.force_input: bool | None = None
            if isinstance(self.slot, WidgetInput):
                self.force_input = self.slot.force_input = True

        def get_all(self) -> list[Input]:
            return [self.slot, *self.inputs]

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({"slotType": str(self.slot.get_io_type()),
                                                   "inputs": input_dict_v1(self.inputs),
                                                   "forceInput": self.force_input})

        def validate(self) -> None:
            self.slot.validate()
            _check_unique(f"DynamicSlot {self.id!r}", self.inputs)
            for i in self.inputs:
                i.validate()

