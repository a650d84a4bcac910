"""ComfyUI's ``comfy.sampler_helpers`` in a pack child: the pure tensor helpers."""

from __future__ import annotations

from typing import Any


def prepare_mask(noise_mask: Any, shape: Any, device: Any) -> Any:
    """A noise mask resized (bilinear) to the latent, repeated over its channels and batch."""
    import torch

    mask = noise_mask.reshape((-1, 1, noise_mask.shape[-2], noise_mask.shape[-1]))
    mask = torch.nn.functional.interpolate(mask, size=(shape[2], shape[3]), mode="bilinear")
    mask = torch.cat([mask] * shape[1], dim=1)
    from comfy.utils import repeat_to_batch_size

    return repeat_to_batch_size(mask, shape[0]).to(device)


def convert_cond(cond: list[Any]) -> list[dict[str, Any]]:
    out = []
    for c in cond:
        temp = dict(c[1])
        if c[0] is not None:
            temp["cross_attn"] = c[0]
        temp["model_conds"] = temp.get("model_conds", {})
        out.append(temp)
    return out


def get_models_from_cond(cond: list[Any], model_type: str) -> list[Any]:
    return [c[model_type] for c in cond if model_type in c]


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
