"""Stand-ins for the parts of ComfyUI a pack child does not have (``comfy.ldm.*`` model internals, core extra
nodes the host lacks, ...): the import works, using the name raises ``NotProvidedError`` naming it.

Packs import ComfyUI's internals at module level for nodes that may never run (a video-model pack imports
``comfy.ldm.lightricks.model`` beside its image nodes), and one failed import loses every node of the
module. A finder placed after the real ones serves every ``comfy.*`` / ``comfy_extras.*`` module that no
compat module provides; any attribute of such a module is a stand-in class: it can be subclassed, decorated
with, read attributes from (each one another stand-in), but instantiating or calling it raises. What was
stood in is recorded (``used()``) so ``nodehost ext list`` shows it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

#: the top-level packages stand-ins are made for (``comfy_extras`` modules first try the host's nodes)
STANDIN_ROOTS = ("comfy", "comfy_extras")

_used: list[str] = []


class NotProvidedError(NotImplementedError):
    """A ComfyUI internal that nodehost does not provide inside a pack's process was used."""


class _StandInMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return stand_in(f"{cls.__nh_name__}.{name}")

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.__dict__.get("__nh_standin__"):
            raise NotProvidedError(f"{cls.__nh_name__} is not available inside an isolated node pack "
                                   "(nodehost does not provide this ComfyUI internal)")
        return super().__call__(*args, **kwargs)

    def __repr__(cls) -> str:
        return f"<nodehost stand-in {cls.__nh_name__}>"

    def __iter__(cls) -> Any:  # ``(*Missing.RETURN_TYPES, "STRING")`` at class definition: nothing to add
        return iter(())

    def __len__(cls) -> int:
        return 0


def stand_in(qualified: str) -> type:
    """A class standing in for ``qualified`` (``comfy.ldm.wan.model.WanModel``)."""
    module, _, name = qualified.rpartition(".")
    return _StandInMeta(name or qualified, (), {"__nh_name__": qualified, "__nh_standin__": True,
                                                "__module__": module or qualified})


def is_stand_in(value: Any) -> bool:
    return isinstance(value, _StandInMeta) and bool(value.__dict__.get("__nh_standin__"))


class StandInModule(types.ModuleType):
    """A module whose every public attribute is a stand-in (or, under ``comfy_extras``, the host's node)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value: Any = None
        if self.__name__.startswith("comfy_extras."):
            from isolate.core_nodes import core_node

            value = core_node(name)
        if value is None:
            value = stand_in(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StandInModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []  # a package: its submodules are stand-ins too
        if module.__name__ not in _used:
            _used.append(module.__name__)


class StandInFinder(importlib.abc.MetaPathFinder):
    """Serves the ``STANDIN_ROOTS`` submodules nothing else found (placed after the real finders)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if "." not in name or name.split(".")[0] not in STANDIN_ROOTS:
            return None
        return importlib.machinery.ModuleSpec(name, _Loader(), is_package=True)


def install() -> None:
    """Append the finder to ``sys.meta_path`` once (the child runtime does it before importing a pack)."""
    if not any(isinstance(f, StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(StandInFinder())


def used() -> list[str]:
    """The modules served as stand-ins so far, in order."""
    return list(_used)


_IMPORT_FROM = __import__("dis").opmap["IMPORT_FROM"]


def missing_attribute(module: str, name: str) -> Any:
    """For a compat module's ``__getattr__``: a stand-in when the name is being imported
    (``from comfy.samplers import sampling_function``), so the import works; AttributeError otherwise, so
    ``hasattr`` and ``getattr(m, name, default)`` still tell the truth."""
    frame = sys._getframe(2)
    code = frame.f_code.co_code
    if not name.startswith("_") and 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _IMPORT_FROM:
        qualified = f"{module}.{name}"
        if qualified not in _used:
            _used.append(qualified)
        return stand_in(qualified)
    raise AttributeError(f"module {module!r} has no attribute {name!r} (not provided in an isolated child)")
