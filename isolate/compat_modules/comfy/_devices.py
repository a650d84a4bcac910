"""Devices and dtype policy of ``comfy.model_management`` (re-exported there): what torch sees in this process,
CUDA first, then MPS, then the CPU. torch is imported on first use."""

from __future__ import annotations

from enum import Enum
from functools import cache
from typing import Any


class VRAMState(Enum):
    DISABLED = 0  # no GPU: everything on the CPU
    NO_VRAM = 1
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5  # CPU and GPU share memory (Apple silicon)


class CPUState(Enum):
    GPU = 0
    CPU = 1
    MPS = 2


# -- devices -------------------------------------------------------------------------------------------------
def _torch() -> Any:
    import torch

    return torch


@cache
def _cpu_state() -> CPUState:
    torch = _torch()
    if torch.cuda.is_available():
        return CPUState.GPU
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return CPUState.MPS
    return CPUState.CPU


def _vram_state() -> VRAMState:
    return {CPUState.GPU: VRAMState.NORMAL_VRAM, CPUState.MPS: VRAMState.SHARED}.get(_cpu_state(), VRAMState.DISABLED)


def cpu_mode() -> bool:
    return _cpu_state() == CPUState.CPU


def mps_mode() -> bool:
    return _cpu_state() == CPUState.MPS


def is_nvidia() -> bool:
    return _cpu_state() == CPUState.GPU and bool(_torch().version.cuda)


def is_amd() -> bool:
    return _cpu_state() == CPUState.GPU and bool(getattr(_torch().version, "hip", None))


def is_intel_xpu() -> bool:
    return False


def get_torch_device() -> Any:
    """The device nodes compute on: ``cuda:<current>``, ``mps`` or ``cpu``."""
    torch = _torch()
    state = _cpu_state()
    if state == CPUState.GPU:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("mps" if state == CPUState.MPS else "cpu")


def get_torch_device_name(device: Any) -> str:
    if is_device_cuda(device):
        return f"{device} {_torch().cuda.get_device_name(device)}"
    return str(getattr(device, "type", device))


def _cpu() -> Any:
    return _torch().device("cpu")


def intermediate_device() -> Any:
    """Where node outputs between nodes live: the CPU."""
    return _cpu()


def unet_offload_device() -> Any:
    return _cpu()


def text_encoder_offload_device() -> Any:
    return _cpu()


def vae_offload_device() -> Any:
    return _cpu()


def text_encoder_device() -> Any:
    return get_torch_device() if should_use_fp16(prioritize_performance=False) else _cpu()


def text_encoder_initial_device(load_device: Any, offload_device: Any, model_size: int = 0) -> Any:
    return offload_device


def vae_device() -> Any:
    return get_torch_device()


def get_autocast_device(dev: Any) -> str:
    return getattr(dev, "type", "cuda")


def is_device_type(device: Any, type: str) -> bool:
    kind = getattr(device, "type", None)
    if kind is None and isinstance(device, str):
        kind = device.split(":")[0]
    return kind == type


def is_device_cpu(device: Any) -> bool:
    return is_device_type(device, "cpu")


def is_device_mps(device: Any) -> bool:
    return is_device_type(device, "mps")


def is_device_cuda(device: Any) -> bool:
    return is_device_type(device, "cuda")


def device_supports_non_blocking(device: Any) -> bool:
    return is_device_cuda(device)


def cast_to_device(tensor: Any, device: Any, dtype: Any, copy: bool = False) -> Any:
    return tensor.to(device=device, dtype=dtype, copy=copy, non_blocking=device_supports_non_blocking(device))


# -- dtypes --------------------------------------------------------------------------------------------------
def _cuda_major(device: Any) -> int:
    return _torch().cuda.get_device_properties(device).major


def should_use_fp16(device: Any = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    """fp16 where it is fast: CUDA compute capability 7+ and MPS; never on the CPU."""
    device = get_torch_device() if device is None else device
    if is_device_mps(device):
        return True
    return is_device_cuda(device) and _cuda_major(device) >= 7


def should_use_bf16(device: Any = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    """bf16 where the hardware has it: CUDA compute capability 8+ (Ampere); not on the CPU or MPS here."""
    device = get_torch_device() if device is None else device
    return is_device_cuda(device) and _cuda_major(device) >= 8


def supports_dtype(device: Any, dtype: Any) -> bool:
    torch = _torch()
    if dtype == torch.float32:
        return True
    if is_device_cpu(device):
        return False
    if dtype == torch.float16:
        return is_device_cuda(device) or is_device_mps(device)
    if dtype == torch.bfloat16:
        return should_use_bf16(device)
    return False


def supports_cast(device: Any, dtype: Any) -> bool:
    return True


def pick_weight_dtype(dtype: Any, fallback_dtype: Any, device: Any = None) -> Any:
    if dtype is None or not supports_dtype(device if device is not None else get_torch_device(), dtype):
        return fallback_dtype
    return dtype


def _preferred(device: Any, dtypes: Any, default: Any) -> Any:
    torch = _torch()
    for dtype in dtypes:
        if dtype == torch.float16 and should_use_fp16(device):
            return dtype
        if dtype == torch.bfloat16 and should_use_bf16(device):
            return dtype
        if dtype == torch.float32:
            return dtype
    return default


def unet_dtype(device: Any = None, model_params: int = 0, supported_dtypes: Any = None,
               weight_dtype: Any = None) -> Any:
    torch = _torch()
    dtypes = supported_dtypes or [torch.float16, torch.bfloat16, torch.float32]
    return _preferred(device, dtypes, torch.float32)


def unet_manual_cast(weight_dtype: Any, inference_device: Any, supported_dtypes: Any = None) -> Any:
    """None when the device computes in ``weight_dtype`` itself, else the dtype to compute in."""
    torch = _torch()
    if weight_dtype == torch.float32 or supports_dtype(inference_device, weight_dtype):
        return None
    return _preferred(inference_device, supported_dtypes or [torch.float16, torch.bfloat16, torch.float32],
                      torch.float32)


def text_encoder_dtype(device: Any = None) -> Any:
    torch = _torch()
    return torch.float16 if should_use_fp16(device, prioritize_performance=False) else torch.float32


def vae_dtype(device: Any = None, allowed_dtypes: Any = ()) -> Any:
    """The first of ``allowed_dtypes`` the device runs well, else bf16 on Ampere+ CUDA, else fp32."""
    torch = _torch()
    default = torch.bfloat16 if should_use_bf16(device) else torch.float32
    return _preferred(device, allowed_dtypes, default)
