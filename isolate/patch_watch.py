"""Noticing what a pack replaces in ComfyUI's modules while it imports.

Some packs hook execution or sampling by assigning to ComfyUI's module attributes at import
(``execution.get_output_data = ...``, ``comfy.samplers.sampling_function = ...``). In nodehost those modules
in the pack's process are not the ones the host executes and samples with, so the patch reaches nothing.
The pack still loads; each replaced name becomes one warning naming the pack (``nodehost ext list`` shows it).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

#: the modules whose functions packs are known to replace (docs/extensions.md)
WATCHED = ("execution", "nodes", "latent_preview", "comfy.samplers", "comfy.sample", "comfy.model_management",
           "comfy.model_patcher", "comfy.lora", "comfy.k_diffusion.sampling", "comfy.utils", "comfy.sd")


def snapshot() -> dict[str, dict[str, int]]:
    """The ids of every attribute of the watched modules (imported now: none imports torch)."""
    taken: dict[str, dict[str, int]] = {}
    for name in WATCHED:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001  (a module that cannot import is simply not watched)
            continue
        taken[name] = {k: id(v) for k, v in vars(module).items() if not k.startswith("__")}
    return taken


def replaced(before: dict[str, dict[str, int]]) -> list[str]:
    """``module.name`` of each attribute that now holds another object than at ``snapshot`` time."""
    found = []
    for name, attrs in before.items():
        module: Any = sys.modules.get(name)
        if module is None:
            continue
        for key, value in vars(module).items():
            if key in attrs and attrs[key] != id(value) and callable(value):
                found.append(f"{name}.{key}")
    return found


def warnings_for(pack: str, names: list[str]) -> list[str]:
    return [f"pack {pack} replaced {n} at import: the host's executor and samplers never see it (that module in the "
            "pack's own process is not the one the host runs); the pack's nodes load as usual" for n in names]
