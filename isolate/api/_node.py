"""The v3 node (COMPAT §5.2): ``Schema``, ``NodeOutput`` and ``ComfyNode`` with its v1 class properties."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from isolate.api._base import Hidden, HiddenHolder, Input, Output
from isolate.api._dynamic import DynamicInput
from isolate.graph_utils import ExecutionBlocker


def _duplicates(ids: list[Any]) -> list[Any]:
    return sorted({i for i in ids if i is not None and ids.count(i) > 1}, key=str)


@dataclass
class Schema:
    """A v3 node's definition.

    ``python_module`` and ``legacy_object_info`` are nodehost's own: builtin nodes name the ComfyUI module
    they mirror, and the ones ComfyUI still defines on v1 render ``/object_info`` in the v1 key set."""

    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)
    description: str = ""
    search_aliases: list[str] = field(default_factory=list)
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_dev_only: bool = False
    is_api_node: bool = False
    price_badge: Any = None
    not_idempotent: bool = False
    enable_expand: bool = False
    accept_all_inputs: bool = False
    essentials_category: str | None = None
    has_intermediate_output: bool = False
    python_module: str | None = None
    legacy_object_info: bool = False

    def finalize(self) -> None:
        """API nodes get the auth hidden values, output nodes prompt and extra_pnginfo; unnamed outputs get
        the id ``_{i}_{TYPE}_``."""
        self.inputs = list(self.inputs or [])
        self.outputs = list(self.outputs or [])
        self.hidden = list(self.hidden or [])
        wanted = []
        if self.is_api_node:
            wanted += [Hidden.auth_token_comfy_org, Hidden.api_key_comfy_org]
        if self.is_output_node:
            wanted += [Hidden.prompt, Hidden.extra_pnginfo]
        self.hidden += [h for h in wanted if h not in self.hidden]
        for i, out in enumerate(self.outputs):
            if out.id is None:
                out.id = f"_{i}_{out.get_io_type()}_"

    def validate(self) -> None:
        """Input ids and output ids must each be unique; every input and output checks itself."""
        issues = []
        nested = [x for i in self.inputs for x in ([i] if isinstance(i, DynamicInput) else i.get_all())]
        for kind, ids in (("Input", [i.id for i in nested]), ("Output", [o.id for o in self.outputs])):
            dupes = _duplicates(ids)
            if dupes:
                issues.append(f"{kind} ids must be unique, but {dupes} are not.")
        bad_hidden = [h for h in self.hidden if not isinstance(h, Hidden)]
        if bad_hidden:
            issues.append(f"hidden entries must be io.Hidden members, got {bad_hidden}")
        if issues:
            raise ValueError(f"{self.node_id}: " + " ".join(issues))
        for item in [*self.inputs, *self.outputs]:
            item.validate()


class _UIOutput(ABC):
    """A node's UI result; ``as_dict()`` is what history and ``executed`` carry."""

    @abstractmethod
    def as_dict(self) -> dict[str, Any]: ...


class NodeOutput:
    """What a v3 ``execute`` returns: output values, an optional ui (dict or ``ui.*``), an optional expansion
    graph, or ``block_execution`` (a message) to block everything downstream."""

    def __init__(self, *args: Any, ui: _UIOutput | dict[str, Any] | None = None, expand: dict | None = None,
                 block_execution: str | None = None) -> None:
        self.args = args
        self.ui = ui
        self.expand = expand
        self.block_execution = block_execution

    @property
    def values(self) -> tuple[Any, ...]:
        return self.args

    @property
    def result(self) -> tuple[Any, ...] | None:
        return self.args if self.args else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeOutput:
        """From a v1-style ``{"result": ..., "ui": ..., "expand": ...}``; a blocker result blocks."""
        result = data.get("result")
        if isinstance(result, ExecutionBlocker):
            return cls(block_execution=result.message)
        return cls(*(result or ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index: int) -> Any:
        return self.args[index]

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("ui", self.ui), ("expand", self.expand),
                                                     ("block_execution", self.block_execution)) if v is not None)
        return f"NodeOutput({', '.join(map(repr, self.args))}{extra})"


class _classproperty:  # noqa: N801 - reads like a decorator
    def __init__(self, fget: Any) -> None:
        self.fget = fget
        self.__doc__ = fget.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self.fget(owner if owner is not None else type(obj))


@dataclass(frozen=True)
class _V1View:
    """The schema-derived v1 attributes of one class, computed once."""

    schema: Schema
    return_types: tuple[str, ...]
    return_names: tuple[str, ...]
    output_is_list: tuple[bool, ...]
    output_tooltips: tuple[str | None, ...]


def _v1(cls: type[ComfyNode]) -> _V1View:
    view = cls.__dict__.get("_v1_view")
    if view is None:
        schema = cls.GET_SCHEMA()
        outs = schema.outputs
        view = _V1View(schema, tuple(o.get_io_type() for o in outs),
                       tuple(o.display_name or o.get_io_type() for o in outs),
                       tuple(o.is_output_list for o in outs), tuple(o.tooltip or None for o in outs))
        cls._v1_view = view
    return view


def _first_override(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if klass is ComfyNode:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


class ComfyNode:
    """Base of v3 nodes: stateless, every method a classmethod, run on a class clone with ``hidden`` set.

    The v1 class attributes (``INPUT_TYPES()``, ``RETURN_TYPES``, ``FUNCTION``, ``CATEGORY`` ...) are derived
    from the schema, so code that treats a node as a v1 class works; nodehost itself reads v3 classes through
    ``isolate.v3.nodedef_from_v3``."""

    hidden: ClassVar[HiddenHolder] = HiddenHolder()
    RELATIVE_PYTHON_MODULE: ClassVar[str | None] = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError(f"{cls.__name__} must define define_schema()")

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError(f"{cls.__name__} must define execute()")

    @classmethod
    def validate_inputs(cls, **kwargs: Any) -> bool | str:
        """Optional (v1 VALIDATE_INPUTS): True, or an error message."""
        raise NotImplementedError

    @classmethod
    def fingerprint_inputs(cls, **kwargs: Any) -> Any:
        """Optional (v1 IS_CHANGED): a value that changes when the node must run again."""
        raise NotImplementedError

    @classmethod
    def check_lazy_status(cls, **kwargs: Any) -> list[str]:
        """Optional: the lazy inputs still needed; by default every input not evaluated yet (None)."""
        return [name for name, value in kwargs.items() if value is None]

    # -- schema access ------------------------------------------------------------------------------------
    @classmethod
    def VALIDATE_CLASS(cls) -> None:  # noqa: N802 - ComfyUI's name
        for name in ("define_schema", "execute"):
            if _first_override(cls, name) is None:
                raise TypeError(f"No {name} function was defined for node class {cls.__name__}.")

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:  # noqa: N802
        schema = cls.define_schema()
        schema.finalize()
        return schema

    @classmethod
    def GET_SCHEMA(cls) -> Schema:  # noqa: N802
        """A fresh schema, finalized and validated."""
        cls.VALIDATE_CLASS()
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        return schema

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict[str, Any]:  # noqa: N802
        """This node's ``/object_info`` entry."""
        from isolate.v3 import nodedef_from_v3

        return nodedef_from_v3(cls, python_module=cls.RELATIVE_PYTHON_MODULE or "nodes").info

    @classmethod
    def PREPARE_CLASS_CLONE(cls, hidden: dict[str, Any] | HiddenHolder | None = None) -> type[ComfyNode]:  # noqa: N802
        """A subclass to run one call on, with ``hidden`` set (values by kind, or a HiddenHolder)."""
        clone = type(cls.__name__, (cls,), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        clone.hidden = hidden if isinstance(hidden, HiddenHolder) else HiddenHolder.from_kinds(hidden)
        return clone

    # -- v1 view ------------------------------------------------------------------------------------------
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, Any]]:  # noqa: N802
        """The v1 input dict: ``{"required": {id: (TYPE, options)}, ..., "hidden": {name: (KIND,)}}``."""
        from isolate.api._base import input_dict_v1

        schema = cls.FINALIZE_SCHEMA()
        d: dict[str, dict[str, Any]] = dict(input_dict_v1(schema.inputs))
        if schema.hidden:
            d["hidden"] = {h.name: (h.value,) for h in schema.hidden}
        return d

    SCHEMA = _classproperty(lambda cls: _v1(cls).schema)
    RETURN_TYPES = _classproperty(lambda cls: _v1(cls).return_types)
    RETURN_NAMES = _classproperty(lambda cls: _v1(cls).return_names)
    OUTPUT_IS_LIST = _classproperty(lambda cls: _v1(cls).output_is_list)
    OUTPUT_TOOLTIPS = _classproperty(lambda cls: _v1(cls).output_tooltips)
    OUTPUT_NODE = _classproperty(lambda cls: _v1(cls).schema.is_output_node)
    INPUT_IS_LIST = _classproperty(lambda cls: _v1(cls).schema.is_input_list)
    CATEGORY = _classproperty(lambda cls: _v1(cls).schema.category)
    DESCRIPTION = _classproperty(lambda cls: _v1(cls).schema.description)
    NOT_IDEMPOTENT = _classproperty(lambda cls: _v1(cls).schema.not_idempotent)
    DEPRECATED = _classproperty(lambda cls: _v1(cls).schema.is_deprecated)
    EXPERIMENTAL = _classproperty(lambda cls: _v1(cls).schema.is_experimental)
    DEV_ONLY = _classproperty(lambda cls: _v1(cls).schema.is_dev_only)
    API_NODE = _classproperty(lambda cls: _v1(cls).schema.is_api_node)
    HAS_INTERMEDIATE_OUTPUT = _classproperty(lambda cls: _v1(cls).schema.has_intermediate_output)
    ACCEPT_ALL_INPUTS = _classproperty(lambda cls: _v1(cls).schema.accept_all_inputs)
    FUNCTION = _classproperty(lambda cls: "EXECUTE_NORMALIZED_ASYNC" if inspect.iscoroutinefunction(cls.execute)
                              else "EXECUTE_NORMALIZED")

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args: Any, **kwargs: Any) -> NodeOutput:  # noqa: N802
        """``execute`` with its return (None, tuple, dict, ExecutionBlocker, NodeOutput) as a NodeOutput."""
        return cls._normalize(cls.execute(*args, **kwargs))

    @classmethod
    async def EXECUTE_NORMALIZED_ASYNC(cls, *args: Any, **kwargs: Any) -> NodeOutput:  # noqa: N802
        return cls._normalize(await cls.execute(*args, **kwargs))

    @classmethod
    def _normalize(cls, out: Any) -> NodeOutput:
        if out is None:
            out = NodeOutput()
        elif isinstance(out, tuple):
            out = NodeOutput(*out)
        elif isinstance(out, dict):
            out = NodeOutput.from_dict(out)
        elif isinstance(out, ExecutionBlocker):
            out = NodeOutput(block_execution=out.message)
        elif not isinstance(out, NodeOutput):
            raise TypeError(f"Invalid return type from node {cls.__name__}: {type(out).__name__}")
        if out.expand is not None and not cls.SCHEMA.enable_expand:
            raise TypeError(f"Node {cls.__name__} returned an expansion but its Schema lacks enable_expand=True")
        return out
