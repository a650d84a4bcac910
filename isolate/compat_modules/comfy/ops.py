"""ComfyUI's ``comfy.ops`` in a pack child: the layer families (``disable_weight_init``, ``manual_cast``) as
plain torch layers that skip weight initialisation and, for ``manual_cast``, cast weights to the input's
dtype and device per call; ``cast_bias_weight``. Pure torch, built on first use (torch is imported then)."""

from __future__ import annotations

from typing import Any

_LAYERS = ("Linear", "Conv1d", "Conv2d", "Conv3d", "GroupNorm", "LayerNorm", "ConvTranspose1d", "ConvTranspose2d",
           "Embedding", "RMSNorm")


def cast_to(weight: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False, copy: bool = False) -> Any:
    if weight is None:
        return None
    return weight.to(device=device, dtype=dtype, non_blocking=non_blocking, copy=copy)


def cast_bias_weight(s: Any, input: Any = None, dtype: Any = None, device: Any = None,  # noqa: A002
                     bias_dtype: Any = None) -> tuple[Any, Any]:
    if input is not None:
        dtype = dtype if dtype is not None else input.dtype
        device = device if device is not None else input.device
        bias_dtype = bias_dtype if bias_dtype is not None else dtype
    weight = cast_to(s.weight, dtype, device)
    bias = cast_to(getattr(s, "bias", None), bias_dtype, device)
    return weight, bias


def _family(name: str, cast: bool) -> type:
    import torch

    members: dict[str, Any] = {}
    for layer in _LAYERS:
        base = getattr(torch.nn, layer, None)
        if base is None:
            continue

        def reset_parameters(self: Any) -> None:
            return None

        attrs: dict[str, Any] = {"comfy_cast_weights": cast, "weight_function": [], "bias_function": [],
                                 "reset_parameters": reset_parameters, "__module__": __name__}
        if cast:
            attrs["forward"] = _cast_forward(base)
        members[layer] = type(layer, (base,), attrs)

    @classmethod  # type: ignore[misc]
    def conv_nd(cls: Any, dims: int, *args: Any, **kwargs: Any) -> Any:
        return getattr(cls, f"Conv{dims}d")(*args, **kwargs)

    members["conv_nd"] = conv_nd
    members["__module__"] = __name__
    return type(name, (), members)


def _cast_forward(base: type) -> Any:
    """The layer's forward with its weight and bias cast to the input's dtype and device."""
    import torch.nn.functional as F  # noqa: N812

    name = base.__name__

    def forward(self: Any, input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        weight, bias = cast_bias_weight(self, input)
        if name == "Linear":
            return F.linear(input, weight, bias)
        if name.startswith("Conv") and not name.startswith("ConvTranspose"):
            return self._conv_forward(input, weight, bias)
        if name == "GroupNorm":
            return F.group_norm(input, self.num_groups, weight, bias, self.eps)
        if name == "LayerNorm":
            return F.layer_norm(input, self.normalized_shape, weight, bias, self.eps)
        return base.forward(self, input, *args, **kwargs)
    return forward


_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in ("disable_weight_init", "manual_cast"):
        if name not in _built:
            _built[name] = _family(name, cast=name == "manual_cast")
        return _built[name]
    if name in ("CastWeightBiasOp",):
        return type(name, (), {"comfy_cast_weights": False, "weight_function": [], "bias_function": []})
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)


def pick_operations(weight_dtype: Any, compute_dtype: Any, load_device: Any = None, disable_fast_fp8: bool = False,
                    fp8_optimizations: bool = False, scaled_fp8: Any = None, model_config: Any = None) -> type:
    return __getattr__("manual_cast" if weight_dtype != compute_dtype else "disable_weight_init")
