"""``comfy_api.v0_0_1``: an alias of ``comfy_api.latest``."""

from comfy_api.latest import (
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
