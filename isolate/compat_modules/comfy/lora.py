"""ComfyUI's ``comfy.lora`` in a pack child, as far as it is pure: reading a LoRA state dict into patches
(``load_lora``) over a key map; the key maps of a model the host holds come from the host."""

from __future__ import annotations

from typing import Any

from isolate.standins import NotProvidedError


def model_lora_keys_unet(model: Any, key_map: dict[str, Any] | None = None) -> dict[str, Any]:
    raise NotProvidedError("comfy.lora.model_lora_keys_unet: the host's model keys are not available in a pack yet")


def model_lora_keys_clip(model: Any, key_map: dict[str, Any] | None = None) -> dict[str, Any]:
    raise NotProvidedError("comfy.lora.model_lora_keys_clip: the host's model keys are not available in a pack yet")


def load_lora(lora: dict[str, Any], to_load: dict[str, Any], log_missing: bool = True) -> dict[str, Any]:
    """Patches ``{model key: ("lora", (up, down, alpha, mid, dora_scale, reshape))}`` for the standard
    ``lora_up``/``lora_down`` (and ``lora_A``/``lora_B``) layouts."""
    patches: dict[str, Any] = {}
    for prefix, key in to_load.items():
        for up_name, down_name in ((".lora_up.weight", ".lora_down.weight"), ("_lora.up.weight", "_lora.down.weight"),
                                   (".lora_B.weight", ".lora_A.weight"), (".lora.up.weight", ".lora.down.weight")):
            up, down = lora.get(prefix + up_name), lora.get(prefix + down_name)
            if up is not None and down is not None:
                alpha = lora.get(prefix + ".alpha")
                patches[key] = ("lora", (up, down, float(alpha) if alpha is not None else None, None,
                                         lora.get(prefix + ".dora_scale"), None))
                break
    return patches


def calculate_weight(patches: list[Any], weight: Any, key: str, intermediate_dtype: Any = None) -> Any:
    """A weight with ``patches`` applied: ``diff`` and ``lora`` patches (pure torch)."""
    import torch

    for strength, value, strength_model, _offset, _function in patches:
        if strength_model != 1.0:
            weight = weight * strength_model
        tagged = isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
        kind, data = (value[0], value[1]) if tagged else ("diff", (value,))
        if kind == "diff":
            diff = data[0]
            weight = weight + strength * diff.to(weight.device, weight.dtype)
        elif kind == "lora":
            up, down, alpha = data[0], data[1], data[2]
            scale = (alpha / down.shape[0]) if alpha is not None else 1.0
            delta = torch.mm(up.flatten(start_dim=1).float(), down.flatten(start_dim=1).float())
            weight = weight + (strength * scale * delta.reshape(weight.shape)).to(weight.dtype)
        else:
            raise NotProvidedError(f"comfy.lora.calculate_weight: patch type {kind!r} is not supported in a pack")
    return weight


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
