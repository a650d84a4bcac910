"""Load ControlNet and T2I-Adapter files into CONTROL_NET values (``host.models.sampling.control.ControlModel``).

What a file holds is told from its keys: a ControlNet in the original layout (``zero_convs.0.0.weight`` and
``input_hint_block.0.weight``, bare or under ``control_model.``), or a T2I-Adapter (TencentARC's ``conv_in`` /
``body.*`` names, or diffusers' ``adapter.body.*``). A "diff" ControlNet (a ``difference`` key) stores its weights
as differences from the UNet it was trained on: given the model, the UNet's weights are added to every
``control_model.*`` tensor that has a UNet counterpart (DiffControlNetLoader). Files named ``*_shuffle`` get
global average pooling of their residuals. Anything else is an UnknownArchitecture naming the file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from host.models.checkpoint import open_state_dict
from host.models.controlnet import ControlNetModel, control_prefix, controlnet_config_from_keys
from host.models.detect import describe_keys
from host.models.errors import UnknownArchitecture
from host.models.loading import assign_weights
from host.models.sampling.control import ControlModel
from host.models.t2i_adapter import T2IAdapter, adapter_args_from_keys, diffusers_to_original

log = logging.getLogger("nodehost.models")


def _unet_dtype(policy: Any) -> torch.dtype:
    return torch.float32 if policy is None else policy.torch_dtype("unet")


def _with_base(sd: Mapping[str, torch.Tensor], prefix: str, base: Any, path: Path) -> Mapping[str, torch.Tensor]:
    """A diff ControlNet's tensors with the base UNet's weights added where both have the key."""
    if "difference" not in sd:
        return sd
    if base is None:
        log.warning("%s: a diff ControlNet loaded without a model; it will very likely not work", path)
        return sd
    unet_sd = base.unet.state_dict()
    out = {}
    for key in sd:
        t = sd[key]
        name = key[len("control_model."):] if key.startswith("control_model.") else None
        if name is not None and name in unet_sd:
            t = t + unet_sd[name].to(device=t.device, dtype=t.dtype)
        out[key] = t
    return out


def _load_controlnet(sd: Mapping[str, torch.Tensor], prefix: str, path: Path, device: Any, dtype: torch.dtype,
                     base: Any) -> ControlModel:
    found = controlnet_config_from_keys(sd, prefix)
    if found is None:
        raise UnknownArchitecture(path, f"ControlNet keys without its UNet encoder copy: {describe_keys(list(sd))}")
    cfg, hint_channels = found
    with torch.device("meta"):
        model = ControlNetModel(cfg, hint_channels)
    assign_weights(model, _with_base(sd, prefix, base, path), prefix, path, dtype, device)
    shuffle = path.stem.endswith(("_shuffle", "_shuffle_fp16"))
    return ControlModel(model, "controlnet", device=device, dtype=dtype, global_average_pooling=shuffle, path=path)


def _load_adapter(sd: Mapping[str, torch.Tensor], path: Path, device: Any, dtype: torch.dtype) -> ControlModel:
    if "adapter.body.0.resnets.0.block1.weight" in sd:
        sd = diffusers_to_original({k: sd[k] for k in sd})
    if "body.0.in_conv.weight" in sd:
        raise UnknownArchitecture(path, "a light T2I-Adapter (Adapter_light) is not supported")
    args = adapter_args_from_keys(sd)
    if args is None:
        raise UnknownArchitecture(path, f"no ControlNet or T2I-Adapter weights found: {describe_keys(list(sd))}")
    if args["cin"] % 64 or args["cin"] in (256, 768):
        raise UnknownArchitecture(path, f"T2I-Adapter with {args['cin']} input channels (an SDXL adapter?) is not "
                                        "supported; SD1.x adapters take 64 or 192")
    with torch.device("meta"):
        model = T2IAdapter(**args)
    assign_weights(model, sd, "", path, dtype, device)
    return ControlModel(model, "t2i", device=device, dtype=dtype, path=path)


def load_control(path: str | Path, *, device: Any = "cpu", dtype_policy: Any = None, base: Any = None) -> ControlModel:
    """The CONTROL_NET in ``path``; ``base`` (a DiffusionModel) completes a diff ControlNet."""
    path = Path(path)
    sd = open_state_dict(path)
    keys = list(sd)
    dtype = _unet_dtype(dtype_policy)
    if "controlnet_cond_embedding.conv_in.weight" in sd:
        raise UnknownArchitecture(path, "a diffusers-format ControlNet; only the original (cldm) layout is "
                                        "supported")
    prefix = control_prefix(keys)
    if prefix is not None:
        return _load_controlnet(sd, prefix, path, device, dtype, base)
    return _load_adapter(sd, path, device, dtype)


__all__ = ["load_control"]
