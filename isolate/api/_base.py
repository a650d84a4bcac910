"""Building blocks of the v3 io API (COMPAT §5.2): hidden values, the Input/Output bases, ``comfytype``.

A v3 type is a namespace class carrying ``io_type`` with nested ``Input`` and ``Output`` classes bound to it
(``Input.Parent``); ``as_dict()`` gives an input's option dict exactly as ``/object_info`` shows it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar


def prune_dict(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without its None values (False, 0 and empty containers stay)."""
    return {k: v for k, v in d.items() if v is not None}


def enum_value(v: Any) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


class FolderType(str, enum.Enum):
    input = "input"
    output = "output"
    temp = "temp"


class UploadType(str, enum.Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


class NumberDisplay(str, enum.Enum):
    number = "number"
    slider = "slider"
    gradient_slider = "gradientslider"


class ControlAfterGenerate(str, enum.Enum):
    fixed = "fixed"
    increment = "increment"
    decrement = "decrement"
    randomize = "randomize"


class RemoteOptions:
    """A combo whose options the frontend fetches from ``route``."""

    def __init__(self, route: str, refresh_button: bool, control_after_refresh: Literal["first", "last"] = "first",
                 timeout: int | None = None, max_retries: int | None = None, refresh: int | None = None) -> None:
        self.route = route
        self.refresh_button = refresh_button
        self.control_after_refresh = control_after_refresh
        self.timeout = timeout
        self.max_retries = max_retries
        self.refresh = refresh

    def as_dict(self) -> dict[str, Any]:
        return prune_dict({"route": self.route, "refresh_button": self.refresh_button,
                           "control_after_refresh": self.control_after_refresh, "timeout": self.timeout,
                           "max_retries": self.max_retries, "refresh": self.refresh})


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
    """``cls.hidden`` during a v3 call; an attribute nobody set reads as None."""

    unique_id: str | None = None
    prompt: Any = None
    extra_pnginfo: Any = None
    dynprompt: Any = None
    auth_token_comfy_org: str | None = None
    api_key_comfy_org: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    @classmethod
    def from_kinds(cls, values: dict[str, Any] | None) -> HiddenHolder:
        """From ``{"UNIQUE_ID": ..., "PROMPT": ...}`` (kind strings or ``Hidden`` members as keys)."""
        values = values or {}
        return cls(**{h.name: values.get(h.value) for h in Hidden})

    from_dict = from_kinds


# -- types and their inputs/outputs ------------------------------------------------------------------------

class _ComfyType:
    """Marker base of every v3 type namespace."""

    Type: Any = Any
    io_type: ClassVar[str | None] = None


class _IO:
    """Base of v3 inputs and outputs: the io type comes from the type class they are bound to."""

    Parent: ClassVar[type[_ComfyType] | None] = None

    @property
    def io_type(self) -> str | None:
        parent = type(self).Parent
        return parent.io_type if parent is not None else None

    @property
    def Type(self) -> Any:  # noqa: N802 - ComfyUI's name
        parent = type(self).Parent
        return parent.Type if parent is not None else Any

    def validate(self) -> None:
        """Raise ValueError when the declaration is inconsistent; nothing to check by default."""


class Input(_IO):
    """An input slot; ``as_dict`` gives its options as ``/object_info`` shows them."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                 tooltip: str | None = None, lazy: bool | None = None, extra_dict: dict[str, Any] | None = None,
                 raw_link: bool | None = None, advanced: bool | None = None) -> None:
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.lazy = lazy
        self.extra_dict = extra_dict if extra_dict is not None else {}
        self.raw_link = raw_link
        self.advanced = advanced

    def as_dict(self) -> dict[str, Any]:
        return prune_dict({"display_name": self.display_name, "tooltip": self.tooltip, "lazy": self.lazy,
                           "rawLink": self.raw_link, "advanced": self.advanced}) | prune_dict(self.extra_dict)

    def get_io_type(self) -> str:
        return _bound_io_type(self)

    def get_all(self) -> list[Input]:
        """This input and every input nested in it."""
        return [self]

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.id!r})"


class WidgetInput(Input):
    """An input the frontend can show as a widget: adds ``default``, ``socketless``, ``force_input``."""

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                 tooltip: str | None = None, lazy: bool | None = None, default: Any = None,
                 socketless: bool | None = None, widget_type: str | None = None, force_input: bool | None = None,
                 extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                 advanced: bool | None = None) -> None:
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link, advanced)
        self.default = default
        self.socketless = socketless
        self.widget_type = widget_type
        self.force_input = force_input

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | prune_dict({"default": self.default, "socketless": self.socketless,
                                               "widgetType": self.widget_type, "forceInput": self.force_input})

    def get_io_type(self) -> str:
        return self.widget_type if self.widget_type is not None else super().get_io_type()


class Output(_IO):
    """An output slot; ``display_name`` falls back to ``id``, ``/object_info`` then to the io type."""

    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False) -> None:
        self.id = id
        self.display_name = display_name if display_name else id
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    def as_dict(self) -> dict[str, Any]:
        return prune_dict({"display_name": self.display_name, "tooltip": self.tooltip,
                           "is_output_list": self.is_output_list})

    def get_io_type(self) -> str:
        return _bound_io_type(self)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.id!r})"


def _bound_io_type(item: _IO) -> str:
    io_type = item.io_type
    if io_type is None:
        raise TypeError(f"{type(item).__qualname__} {getattr(item, 'id', None)!r} has no io type: declare it "
                        "through a ComfyType (io.Int.Input, io.Custom('MY_TYPE').Output, @io.comfytype)")
    return io_type


class ComfyTypeI(_ComfyType):
    """A type with only an input."""

    class Input(Input):
        pass


class ComfyTypeIO(ComfyTypeI):
    """A type with an input and an output."""

    class Output(Output):
        pass


T = TypeVar("T", bound=type)


def comfytype(io_type: str, **_kwargs: Any) -> Callable[[T], T]:
    """Class decorator making ``cls`` a v3 type with ``io_type``, its ``Input``/``Output`` bound to it.

    A class that is not yet a ComfyType becomes one (with the default Input and Output); an inherited
    ``Input``/``Output`` is subclassed, so the type it came from keeps its own binding."""

    def decorate(cls: T) -> T:
        if not issubclass(cls, _ComfyType):
            body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            cls = type(cls.__name__, (cls, ComfyTypeIO), body)  # type: ignore[assignment]
        cls.io_type = io_type
        for name in ("Input", "Output"):
            io_cls = getattr(cls, name, None)
            if io_cls is None:
                continue
            if name in vars(cls) and "Parent" not in vars(io_cls):
                io_cls.Parent = cls
            else:
                setattr(cls, name, type(name, (io_cls,), {
                    "Parent": cls, "__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.{name}"}))
        return cls

    return decorate


def Custom(io_type: str) -> type[ComfyTypeIO]:  # noqa: N802 - ComfyUI's name
    """A v3 type for a custom io type string: ``io.Custom("MY_TYPE").Input("x")``."""
    return comfytype(io_type)(type(io_type, (ComfyTypeIO,), {"__module__": __name__}))


def io_types_of(types: Iterable[Any]) -> list[str]:
    """The io type strings of ComfyType classes or instances."""
    return [t.io_type for t in types]


def input_dict_v1(inputs: Iterable[Input]) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """``{"required": {id: (io_type, options)}, "optional": {...}}``; ``required`` is always present."""
    d: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {"required": {}}
    for i in inputs:
        d.setdefault("optional" if i.optional else "required", {})[i.id] = (i.get_io_type(), i.as_dict())
    return d
