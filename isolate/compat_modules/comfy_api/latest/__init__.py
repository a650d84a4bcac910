"""``comfy_api.latest``: the same objects as ``isolate.api``."""

from isolate.api import (
    IO,
    UI,
    ComfyAPI,
    ComfyAPISync,
    ComfyExtension,
    Input,
    InputImpl,
    Types,
    io,
    ui,
)

__all__ = ["IO", "UI", "ComfyAPI", "ComfyAPISync", "ComfyExtension", "Input", "InputImpl", "Types", "io", "ui"]
