"""PreviewAny ("Preview as Text", ComfyUI's comfy_extras.nodes_preview_any): shows any value as text.

A plain v1 class: its input renders as ``["*", {}]`` in /object_info, which a v3 schema in the v1 key set
cannot give (empty option dicts are left out there).
"""

from __future__ import annotations

import json
import sys
from typing import Any

_UNSERIALIZABLE = "source exists, but could not be serialized."


def _tensor_str(value: Any) -> str:
    """``str(value)``; torch tensors print with 6 edge items per dimension (torch's default is 3)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        return str(value)
    torch.set_printoptions(edgeitems=6)
    try:
        return str(value)
    finally:
        torch.set_printoptions(edgeitems=3)


def preview_text(source: Any) -> str:
    """Strings as they are, numbers and booleans with ``str``, None as "None", anything JSON can encode as
    JSON indented by 4, the rest with ``str``."""
    if source is None:
        return "None"
    if isinstance(source, str):
        return source
    if isinstance(source, (int, float, bool)):
        return str(source)
    try:
        return json.dumps(source, indent=4)
    except Exception:
        try:
            return _tensor_str(source)
        except Exception:
            return _UNSERIALIZABLE


class PreviewAny:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"source": ("*", {})}}

    RETURN_TYPES = ()
    FUNCTION = "main"
    OUTPUT_NODE = True
    CATEGORY = "utils"

    def main(self, source: Any = None) -> dict[str, Any]:
        return {"ui": {"text": [preview_text(source)]}}


V1_MODULE = "comfy_extras.nodes_preview_any"
V1_CLASSES = {"PreviewAny": PreviewAny}
V1_DISPLAY_NAMES = {"PreviewAny": "Preview as Text"}
