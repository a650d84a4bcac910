"""Loading SDXL's text encoders, and text-encoder files by CLIPLoader / DualCLIPLoader ``type``.

In an SDXL base checkpoint CLIP-L is ``conditioner.embedders.0.transformer.text_model.*`` (transformers'
layout) and OpenCLIP-bigG is ``conditioner.embedders.1.model.*`` (OpenCLIP's own layout, converted at load to
a transformers CLIPTextModel, its ``text_projection`` transposed); the refiner holds bigG alone under
``conditioner.embedders.0.model.*``. Separate files come in either layout (SD3-era ``clip_g.safetensors`` are
transformers-layout with a top-level ``text_projection.weight``).

Which encoder a file holds is told by depth as ComfyUI's ``detect_te_model`` does (a layer 30: bigG, a layer
22: H, else L); small random test encoders (two layers) are told by their width instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from host.models.clip_model import (
    CLIP_SPECS,
    SDXL_L_SPEC,
    ClipSpec,
    ClipTextModel,
    clip_spec_from_keys,
    convert_open_clip,
)
from host.models.clip_sdxl import SDXLTextEncoder
from host.models.conditioning import TextEncoder
from host.models.detect import ModelFamily, describe_keys, detect_clip_kind
from host.models.errors import UnsupportedTextEncoder, WeightMismatch

#: width of each encoder's hidden states (the kind of a small test encoder follows from it)
KIND_BY_WIDTH = {768: "l", 1024: "h", 1280: "g"}
#: CLIPLoader types nodehost builds a text encoder for, and the encoders each takes
CLIP_LOADER_TYPES = {"stable_diffusion": ("l", "h", "g")}
DUAL_CLIP_TYPES = {"sdxl": ("l", "g")}
_NAMES = {"l": "CLIP-L", "h": "OpenCLIP-H", "g": "OpenCLIP-bigG"}
_STORAGE = {"text_encoder": torch.float16, "text_encoder_compute": torch.float32}


def _dtype(policy: Any, component: str) -> torch.dtype:
    return _STORAGE[component] if policy is None else policy.torch_dtype(component)


def clip_tensors(sd: Mapping[str, torch.Tensor], path: Path | str,
                 prefix_hint: str = "") -> tuple[str, dict[str, torch.Tensor], set[str]]:
    """(kind, tensors in ClipTextModel's names, source keys used) of the text encoder under ``prefix_hint``."""
    keys = [k for k in sd if k.startswith(prefix_hint)]
    kind, layout, src = detect_clip_kind(keys, path)
    mine = [k for k in keys if k.startswith(src)]
    if layout == "open_clip":
        tensors = convert_open_clip({k[len(src):]: sd[k] for k in mine})
        used = set(mine)
    else:
        tensors = {"transformer." + k[len(src):]: sd[k] for k in mine}
        used = set(mine)
        outer = src[: -len("text_model.")] if src.endswith("text_model.") else src
        if outer + "text_projection.weight" in sd:  # CLIPTextModelWithProjection files (clip_g.safetensors)
            tensors["text_projection.weight"] = sd[outer + "text_projection.weight"]
            used.add(outer + "text_projection.weight")
    tensors.pop("transformer.embeddings.position_ids", None)
    width = tuple(tensors["transformer.embeddings.token_embedding.weight"].shape)[1]
    if KIND_BY_WIDTH.get(width, kind) != kind and kind in ("l", "h"):
        kind = KIND_BY_WIDTH[width]  # a shallow test encoder: its width says what it stands for
    return kind, tensors, used


def build_encoder(tensors: Mapping[str, torch.Tensor], spec: ClipSpec, path: Path | str, device: Any,
                  policy: Any, embedding_dirs: list[Path] | None, used: set[str]) -> TextEncoder:
    """A TextEncoder of ``spec`` (width, depth, MLP read from the tensors; shapes checked now, weights read on
    first use) with weights rounded to the text encoder's storage dtype and computed in its compute dtype
    (ComfyUI's arithmetic)."""
    from host.models.lazy import lazy
    from host.models.loading import _position_ids

    spec = clip_spec_from_keys(spec.kind, tensors, base=spec)
    if spec.projected_pool and "text_projection.weight" not in tensors:  # as loading's SD2 encoders: identity
        tensors = dict(tensors) | {"text_projection.weight": torch.eye(spec.width)}
    with torch.device("meta"):
        model = ClipTextModel(spec)
    weights, _ = lazy(model, tensors, "", path, _dtype(policy, "text_encoder_compute"), device,
                      via=_dtype(policy, "text_encoder"), after=_position_ids)
    clip = TextEncoder(model, embedding_dirs=list(embedding_dirs or []), device=device, weights=weights)
    clip.used_keys = used
    return clip


def _spec(kind: str, sdxl: bool) -> ClipSpec:
    return SDXL_L_SPEC if kind == "l" and sdxl else CLIP_SPECS[kind]


def build_sdxl_clip(sd: Mapping[str, torch.Tensor], family: ModelFamily, path: Path | str, device: Any,
                    policy: Any, embedding_dirs: list[Path] | None) -> SDXLTextEncoder | TextEncoder:
    """The CLIP of an SDXL base (L + bigG) or refiner (bigG) checkpoint."""
    if family.clip_kind == "g":
        kind, tensors, used = clip_tensors(sd, path, "conditioner.embedders.0.")
        _expect(kind, "g", path, "the SDXL refiner's conditioner.embedders.0")
        return build_encoder(tensors, CLIP_SPECS["g"], path, device, policy, embedding_dirs, used)
    kl, tl, ul = clip_tensors(sd, path, "conditioner.embedders.0.")
    _expect(kl, "l", path, "SDXL's conditioner.embedders.0")
    kg, tg, ug = clip_tensors(sd, path, "conditioner.embedders.1.")
    _expect(kg, "g", path, "SDXL's conditioner.embedders.1")
    return SDXLTextEncoder(build_encoder(tl, SDXL_L_SPEC, path, device, policy, embedding_dirs, ul),
                           build_encoder(tg, CLIP_SPECS["g"], path, device, policy, embedding_dirs, ug))


def _expect(kind: str, want: str, path: Path | str, where: str) -> None:
    if kind != want:
        raise WeightMismatch(path, f"{where} holds a {_NAMES.get(kind, kind)} text encoder, not {_NAMES[want]}")


def load_clip_file(path: Path, clip_type: str, sd: Mapping[str, torch.Tensor], *, device: Any, dtype_policy: Any,
                   embedding_dirs: list[Path] | None) -> TextEncoder:
    """CLIPLoader: one text-encoder file for ``clip_type``. ``stable_diffusion`` takes CLIP-L (SD1.x),
    OpenCLIP-H (SD2.x) or OpenCLIP-bigG (the SDXL refiner's encoder: penultimate layer, projected pool)."""
    if clip_type not in CLIP_LOADER_TYPES:
        raise UnsupportedTextEncoder(path, f"CLIPLoader type {clip_type!r} is for a model family nodehost does not "
                                           f"run; types that load: {', '.join(CLIP_LOADER_TYPES)}")
    kind, tensors, used = clip_tensors(sd, path)
    if kind not in CLIP_LOADER_TYPES[clip_type]:
        raise UnsupportedTextEncoder(path, f"{_NAMES[kind]} cannot be loaded as type {clip_type!r}")
    if kind != "g":
        from host.models.loading import _build_clip

        return _build_clip(sd, path, device, dtype_policy, embedding_dirs)
    return build_encoder(tensors, _spec(kind, False), path, device, dtype_policy, embedding_dirs, used)


def load_dual_clip(paths: tuple[Path, Path], clip_type: str, sds: tuple[Mapping[str, torch.Tensor], ...], *,
                   device: Any, dtype_policy: Any, embedding_dirs: list[Path] | None) -> SDXLTextEncoder:
    """DualCLIPLoader: ``sdxl`` takes a CLIP-L file and an OpenCLIP-bigG file, in either order."""
    if clip_type not in DUAL_CLIP_TYPES:
        raise UnsupportedTextEncoder(paths[0], f"DualCLIPLoader type {clip_type!r} is for a model family nodehost "
                                               f"does not run; types that load: {', '.join(DUAL_CLIP_TYPES)}")
    found: dict[str, tuple[Path, dict[str, torch.Tensor], set[str]]] = {}
    for path, sd in zip(paths, sds, strict=True):
        kind, tensors, used = clip_tensors(sd, path)
        if kind in found or kind not in DUAL_CLIP_TYPES[clip_type]:
            other = f"; the other file is {_NAMES[kind]} too" if kind in found else ""
            raise UnsupportedTextEncoder(path, f"type {clip_type!r} needs one CLIP-L and one OpenCLIP-bigG file; "
                                               f"this one is {_NAMES[kind]}{other} ({describe_keys(list(sd))})")
        found[kind] = (path, tensors, used)
    encoders = {kind: build_encoder(t, _spec(kind, True), p, device, dtype_policy, embedding_dirs, u)
                for kind, (p, t, u) in found.items()}
    return SDXLTextEncoder(encoders["l"], encoders["g"])


__all__ = ["CLIP_LOADER_TYPES", "DUAL_CLIP_TYPES", "build_encoder", "build_sdxl_clip", "clip_tensors",
           "load_clip_file", "load_dual_clip"]
