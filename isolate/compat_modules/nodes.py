"""ComfyUI's ``nodes`` module as an isolated node pack sees it: the constants and the interrupt helpers.

``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS`` are empty for now: the core node classes
(``SaveImage``, ``CLIPTextEncode``, ...) are not provided in a child yet, nor are other packs' nodes (they live
in other processes).
"""

from __future__ import annotations

from typing import Any

MAX_RESOLUTION = 16384

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
#: ``/extensions/<name>`` web folders ComfyUI serves (the host serves packs' ``WEB_DIRECTORY``)
EXTENSION_WEB_DIRS: dict[str, str] = {}
LOADED_MODULE_DIRS: dict[str, str] = {}


def interrupt_processing(value: bool = True) -> None:
    """Interrupt the running prompt (``comfy.model_management.interrupt_current_processing``)."""
    from comfy.model_management import interrupt_current_processing

    interrupt_current_processing(value)


def before_node_execution() -> None:
    """Raise ``InterruptProcessingException`` if the prompt was interrupted."""
    from comfy.model_management import throw_exception_if_processing_interrupted

    throw_exception_if_processing_interrupted()


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'nodes' has no attribute {name!r}: the core node classes are not available "
                         "inside an isolated node pack yet")
