"""ComfyUI's ``comfy.model_management`` for node packs: interrupts, devices, memory and dtype policy.

Interrupts: ``InterruptProcessingException`` is ``isolate.context``'s class (what the runner turns into an
interrupted prompt). ``processing_interrupted()`` is true when the host interrupted the running node (the
progress hook's ``interrupted`` flag, which the child sets on SIGUSR1) or when pack code called
``interrupt_current_processing()`` during the same prompt; that call also tells the host (an ``interrupt``
notification). Devices are what torch sees in this process: CUDA when available, else MPS, else the CPU; there
is no model manager in a child, so ``load_models_gpu`` and friends accept their arguments and do nothing.
torch is imported on first use, not at import time.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from comfy._devices import (  # noqa: F401  (re-exported)
    CPUState,
    VRAMState,
    _cpu_state,
    _torch,
    _vram_state,
    cast_to_device,
    cpu_mode,
    device_supports_non_blocking,
    get_autocast_device,
    get_torch_device,
    get_torch_device_name,
    intermediate_device,
    is_amd,
    is_device_cpu,
    is_device_cuda,
    is_device_mps,
    is_device_type,
    is_intel_xpu,
    is_nvidia,
    mps_mode,
    pick_weight_dtype,
    should_use_bf16,
    should_use_fp16,
    supports_cast,
    supports_dtype,
    text_encoder_device,
    text_encoder_dtype,
    text_encoder_initial_device,
    text_encoder_offload_device,
    unet_dtype,
    unet_manual_cast,
    unet_offload_device,
    vae_device,
    vae_dtype,
    vae_offload_device,
)
from isolate.child_services import services
from isolate.context import InterruptProcessingException, current_node  # the exception class packs catch

directml_enabled = False
XFORMERS_IS_AVAILABLE = False
XFORMERS_ENABLED_VAE = False
ENABLE_PYTORCH_ATTENTION = True
DISABLE_SMART_MEMORY = True
#: what the model manager holds: always empty in a child
current_loaded_models: list[Any] = []
interrupt_processing_mutex = threading.RLock()


# -- interrupts ----------------------------------------------------------------------------------------------
def interrupt_current_processing(value: bool = True) -> None:
    """Interrupt (or, with False, un-interrupt) the prompt this code runs in; an interrupt is sent to the host."""
    ctx = current_node()
    svc = services()
    with interrupt_processing_mutex:
        svc.interrupted = value
        svc.interrupted_prompt = ctx.prompt_id if ctx is not None else None
    if value:
        svc.notify("interrupt", {"prompt_id": ctx.prompt_id if ctx is not None else None})


def _host_interrupted() -> bool:
    ctx = current_node()
    return ctx is not None and bool(getattr(ctx.hook, "interrupted", False))


def _local_interrupted() -> bool:
    svc = services()
    if not svc.interrupted:
        return False
    scope = svc.interrupted_prompt
    ctx = current_node()
    return scope is None or ctx is None or ctx.prompt_id == scope


def processing_interrupted() -> bool:
    with interrupt_processing_mutex:
        return _host_interrupted() or _local_interrupted()


def throw_exception_if_processing_interrupted() -> None:
    """Raise ``InterruptProcessingException`` if interrupted (a pack's own interrupt is consumed by it)."""
    with interrupt_processing_mutex:
        if _local_interrupted():
            services().interrupted = False
            raise InterruptProcessingException()
        if _host_interrupted():
            raise InterruptProcessingException()


# -- memory --------------------------------------------------------------------------------------------------
def _ram_total() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _ram_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return _ram_total()


def get_total_memory(dev: Any = None, torch_total_too: bool = False) -> Any:
    """Bytes of memory of ``dev`` (default: the torch device): GPU memory on CUDA, else the machine's RAM."""
    dev = get_torch_device() if dev is None else dev
    if is_device_cuda(dev):
        torch = _torch()
        _free, total = torch.cuda.mem_get_info(dev)
        torch_total = torch.cuda.memory_stats(dev).get("reserved_bytes.all.current", 0)
    else:
        total = torch_total = _ram_total()
    return (total, torch_total) if torch_total_too else total


def get_free_memory(dev: Any = None, torch_free_too: bool = False) -> Any:
    """Free bytes on ``dev``: CUDA free memory plus what torch reserved but does not use; else available RAM."""
    dev = get_torch_device() if dev is None else dev
    if is_device_cuda(dev):
        torch = _torch()
        stats = torch.cuda.memory_stats(dev)
        torch_free = stats.get("reserved_bytes.all.current", 0) - stats.get("active_bytes.all.current", 0)
        free = torch.cuda.mem_get_info(dev)[0] + torch_free
    else:
        free = torch_free = _ram_available()
    return (free, torch_free) if torch_free_too else free


def minimum_inference_memory() -> int:
    return 1024 ** 3


def maximum_vram_for_weights(device: Any = None) -> float:
    return get_total_memory(device) * 0.88 - minimum_inference_memory()


def module_size(module: Any) -> int:
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())


def soft_empty_cache(force: bool = False) -> None:
    """Give cached GPU memory back to the driver (nothing to do before torch is imported)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
    elif _cpu_state() == CPUState.MPS:
        torch.mps.empty_cache()


def unload_all_models() -> None:
    soft_empty_cache(True)


def load_models_gpu(models: Any, memory_required: int = 0, force_patch_weights: bool = False,
                    minimum_memory_required: Any = None, force_full_load: bool = False) -> None:
    """No model manager runs in a child: accepted and ignored."""


def load_model_gpu(model: Any) -> None:
    return load_models_gpu([model])


def free_memory(memory_required: int, device: Any, keep_loaded: Any = ()) -> list[Any]:
    return []


def cleanup_models(*args: Any, **kwargs: Any) -> None:
    """Nothing to clean up: no models are managed in a child."""


def cleanup_models_gc() -> None:
    """Nothing to clean up: no models are managed in a child."""


def xformers_enabled() -> bool:
    return False


def xformers_enabled_vae() -> bool:
    return False


def pytorch_attention_enabled() -> bool:
    return True


def pytorch_attention_flash_attention() -> bool:
    return is_nvidia()


def sage_attention_enabled() -> bool:
    return False


def flash_attention_enabled() -> bool:
    return False


def __getattr__(name: str) -> Any:
    """Module attributes that need torch or live state, computed on access."""
    if name == "OOM_EXCEPTION":
        return _torch().cuda.OutOfMemoryError
    if name == "cpu_state":
        return _cpu_state()
    if name in ("vram_state", "set_vram_to"):
        return _vram_state()
    if name == "total_vram":
        return get_total_memory(get_torch_device()) / (1024 * 1024)
    if name == "total_ram":
        return _ram_total() / (1024 * 1024)
    if name == "interrupt_processing":
        return processing_interrupted()
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)


def cast_to(weight: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False, copy: bool = False,
            stream: Any = None) -> Any:
    """``weight`` in ``dtype`` on ``device`` (a copy when asked or needed)."""
    return weight.to(device=device, dtype=dtype, non_blocking=non_blocking, copy=copy)


def in_training() -> bool:
    return False


def intermediate_dtype() -> Any:
    return _torch().float32

