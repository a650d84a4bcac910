"""``comfy.cli_args.args``: the host's flags that ComfyUI also has (``preview_method``, ``disable_metadata``,
...), as the host reported them; the rest of ComfyUI's flags at their defaults. A pack that writes to it
changes only its own process."""

from __future__ import annotations

import enum
from types import SimpleNamespace
from typing import Any


class LatentPreviewMethod(enum.Enum):
    NoPreviews = "none"
    Auto = "auto"
    Latent2RGB = "latent2rgb"
    TAESD = "taesd"


class PerformanceFeature(enum.Enum):
    Fp16Accumulation = "fp16_accumulation"
    Fp8MatrixMultiplication = "fp8_matrix_mult"
    CublasOps = "cublas_ops"
    AutoTune = "autotune"


_DEFAULTS: dict[str, Any] = {
    "listen": "127.0.0.1", "port": 8188, "preview_method": "none", "preview_size": 512, "disable_metadata": False,
    "cpu": False, "lowvram": False, "novram": False, "highvram": False, "gpu_only": False, "normalvram": False,
    "disable_smart_memory": False, "force_fp16": False, "force_fp32": False, "fp16_vae": False, "bf16_vae": False,
    "fp32_vae": False, "fp8_e4m3fn_unet": False, "fp8_e5m2_unet": False, "fp8_e4m3fn_text_enc": False,
    "fp8_e5m2_text_enc": False, "fp16_unet": False, "bf16_unet": False, "fp32_unet": False, "fp64_unet": False,
    "use_split_cross_attention": False, "use_quad_cross_attention": False, "use_pytorch_cross_attention": False,
    "use_sage_attention": False, "use_flash_attention": False, "disable_xformers": True,
    "force_upcast_attention": False,
    "dont_upcast_attention": False, "deterministic": False, "fast": set(), "cuda_device": None, "directml": None,
    "output_directory": None, "temp_directory": None, "input_directory": None, "user_directory": None,
    "base_directory": None, "extra_model_paths_config": None, "disable_all_custom_nodes": False,
    "multi_user": False, "verbose": "INFO", "reserve_vram": None, "cache_classic": False, "cache_lru": 0,
    "cache_none": False, "cache_ram": 0, "enable_cors_header": None, "max_upload_size": 100, "dont_print_server": False,
    "quick_test_for_ci": False, "windows_standalone_build": False, "disable_auto_launch": True, "auto_launch": False,
    "front_end_version": "comfyanonymous/ComfyUI@latest", "front_end_root": None, "disable_ipex_optimize": False,
    "async_offload": False, "force_channels_last": False, "default_hashing_function": "sha256",
}


def _args() -> SimpleNamespace:
    from isolate.core_nodes import host_info

    values = dict(_DEFAULTS)
    values.update(host_info().get("args") or {})
    ns = SimpleNamespace(**values)
    try:
        ns.preview_method = LatentPreviewMethod(ns.preview_method)
    except ValueError:
        ns.preview_method = LatentPreviewMethod.NoPreviews
    return ns


def __getattr__(name: str) -> Any:
    if name == "args":
        value = _args()
        globals()["args"] = value
        return value
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
