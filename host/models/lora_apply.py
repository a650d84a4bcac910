"""Apply a LoRA file's tensors to a MODEL and a CLIP value (ComfyUI's ``load_lora_for_models``): the keys of
both are mapped (host.models.lora_keys), the deltas read (host.models.lora), and each value comes back as a
patched clone (host.models.patcher) sharing the weights. Nothing is computed here; the weights are patched when
the model is readied for compute.

A LoRA that does not fit is a :class:`~host.models.errors.LoraMismatch` naming the file, never a silent no-op:
a key whose delta has another shape than the weight it names, a file none of whose keys name a weight of the
given values, or one whose UNet (text-encoder) keys all miss the model (CLIP) it is applied to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from host.models.errors import LoraKeysUnmatched, LoraShapeMismatch
from host.models.lora import Adapter, SetWeight
from host.models.lora_keys import clip_key_map, key_part, unet_key_map
from host.models.lora_read import read_patches
from host.models.patcher import ModelPatcher, weight_modules

log = logging.getLogger("nodehost.models")


@dataclass
class LoraPlan:
    """What a LoRA file patches on the given values."""

    model: dict[str, Adapter] = field(default_factory=dict)
    clip: dict[str, Adapter] = field(default_factory=dict)
    #: LoRA-file keys that name no weight of the values
    unused: list[str] = field(default_factory=list)


def _shapes(value: Any) -> dict[str, tuple[int, ...]]:
    out = {}
    for prefix, (module, _) in weight_modules(value).items():
        out |= {prefix + k: tuple(t.shape) for k, t in module.state_dict(keep_vars=True).items()}
    return out


def plan_lora(lora: Mapping[str, Tensor], model: Any, clip: Any, path: str | Path = "<lora>") -> LoraPlan:
    """Map and read ``lora`` for ``model`` and ``clip`` (either may be None), checking every shape."""
    model_shapes = _shapes(_base(model)) if model is not None else {}
    clip_shapes = _shapes(_base(clip)) if clip is not None else {}
    key_map = unet_key_map(model_shapes) | clip_key_map(clip_shapes)
    patches, used = read_patches(lora, key_map)
    plan = LoraPlan(unused=sorted(k for k in lora if k not in used))
    for name, adapter in patches.items():
        shape = model_shapes.get(name) or clip_shapes.get(name)
        if shape is None or not adapter.fits(shape):
            raise LoraShapeMismatch(path, f"its {adapter.name} delta for {name} does not fit the weight's shape "
                                          f"{list(shape or [])}: the LoRA was made for another model family")
        (plan.model if name in model_shapes else plan.clip)[name] = adapter
    _check_landed(plan, lora, used, model is not None, clip is not None, path)
    return plan


def _check_landed(plan: LoraPlan, lora: Mapping[str, Tensor], used: set[str], has_model: bool, has_clip: bool,
                  path: str | Path) -> None:
    if not plan.model and not plan.clip:
        raise LoraKeysUnmatched(path, f"none of its {len(lora)} keys names a weight of the "
                                      f"{_parts(has_model, has_clip)} (e.g. {sorted(lora)[:3]}): a LoRA for another "
                                      "model family, or not a LoRA")
    for part, wanted, landed in (("unet", has_model, plan.model), ("clip", has_clip, plan.clip)):
        mine = [k for k in lora if key_part(k) == part]
        if wanted and mine and not landed:
            what = "diffusion model" if part == "unet" else "text encoder"
            raise LoraKeysUnmatched(path, f"none of its {len(mine)} {what} keys names a weight of this {what} "
                                          f"(e.g. {mine[0]}): a LoRA for another model family")
    if plan.unused:
        skipped = [k for k in plan.unused if not (key_part(k) == "clip" and not has_clip)]
        if skipped:
            log.warning("%s: %d LoRA keys not loaded, e.g. %s", path, len(skipped), skipped[:5])


def _parts(has_model: bool, has_clip: bool) -> str:
    return " and ".join(p for p, h in (("diffusion model", has_model), ("text encoder", has_clip)) if h) or "nothing"


def _base(value: Any) -> Any:
    return value.model if isinstance(value, ModelPatcher) else value


def patched(value: Any, patches: Mapping[str, Adapter], strength: float) -> ModelPatcher:
    """A clone of ``value`` (wrapped in a ModelPatcher when plain) with ``patches`` at ``strength``."""
    clone = (value if isinstance(value, ModelPatcher) else ModelPatcher(value)).clone()
    clone.add_patches(patches, strength)
    return clone


def load_lora_for_models(model: Any, clip: Any, lora: Mapping[str, Tensor], strength_model: float,
                         strength_clip: float, path: str | Path = "<lora>") -> tuple[Any, Any]:
    """(patched model, patched clip); a None value stays None."""
    plan = plan_lora(lora, model, clip, path)
    return _patched_or_same(model, plan.model, strength_model), _patched_or_same(clip, plan.clip, strength_clip)


def _patched_or_same(value: Any, patches: Mapping[str, Adapter], strength: float) -> Any:
    """At strength 0 a LoRA's deltas add exact zeros, so the value is returned as it is (unless a patch sets
    weights outright, which strength does not scale)."""
    if value is None or (strength == 0.0 and not any(isinstance(a, SetWeight) for a in patches.values())):
        return value
    return patched(value, patches, strength)


__all__ = ["LoraPlan", "load_lora_for_models", "patched", "plan_lora"]
