"""Devices, ComfyUI's VRAM and dtype flags, and the dtype policy they give (MODELS_FACTS §1).

Nothing is probed at import: :class:`DeviceConfig` is plain data read from the command line, and
:func:`probe` looks at the machine when the model manager first needs to know (it imports torch).

VRAM states, as ComfyUI's flags mean them:

- ``cpu`` (``--cpu``, or no GPU): everything on the CPU, fp32 compute.
- ``gpu_only`` (``--gpu-only``): every model (text encoders and VAE too) lives on the GPU, never offloaded.
- ``high`` (``--highvram``): models stay on the GPU after use; evicted only when memory runs out.
- ``normal`` (the default; ``--normalvram`` forces it): models on the GPU within the budget, the least
  recently used moved back to the CPU when another needs the room.
- ``low`` (``--lowvram``): only the model being computed with is on the GPU; the others go back to the CPU.
- ``no`` (``--novram``): as ``low``, and nothing stays on the GPU once a node is done with it.

``--reserve-vram GB`` keeps that much device memory out of the budget (for the OS and other programs).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

VRAM_STATES = ("cpu", "no", "low", "normal", "high", "gpu_only")

#: ComfyUI's dtype flags: flag -> (component, dtype name); the argparse dest is the flag's name with ``_``
DTYPE_FLAGS: dict[str, tuple[str, str]] = {
    "--fp32-unet": ("unet", "float32"), "--fp64-unet": ("unet", "float64"), "--bf16-unet": ("unet", "bfloat16"),
    "--fp16-unet": ("unet", "float16"), "--fp8_e4m3fn-unet": ("unet", "float8_e4m3fn"),
    "--fp8_e5m2-unet": ("unet", "float8_e5m2"),
    "--fp16-vae": ("vae", "float16"), "--fp32-vae": ("vae", "float32"), "--bf16-vae": ("vae", "bfloat16"),
    "--fp8_e4m3fn-text-enc": ("text_encoder", "float8_e4m3fn"),
    "--fp8_e5m2-text-enc": ("text_encoder", "float8_e5m2"), "--fp16-text-enc": ("text_encoder", "float16"),
    "--fp32-text-enc": ("text_encoder", "float32"), "--bf16-text-enc": ("text_encoder", "bfloat16"),
}


def _dest(flag: str) -> str:
    return flag[2:].replace("-", "_")


@dataclass(frozen=True)
class DeviceConfig:
    """What the device and dtype flags asked for (ComfyUI's names)."""

    cpu: bool = False
    gpu_only: bool = False
    highvram: bool = False
    normalvram: bool = False
    lowvram: bool = False
    novram: bool = False
    #: device memory kept out of the budget, in GB (None: ComfyUI's default, 0.4 GB on a GPU)
    reserve_vram: float | None = None
    #: offload models to the CPU as soon as they are done with (ComfyUI's --disable-smart-memory)
    disable_smart_memory: bool = False
    force_fp32: bool = False
    force_fp16: bool = False
    #: ``--cpu-vae``: the VAE on the CPU whatever the compute device
    cpu_vae: bool = False
    #: component ("unet", "vae", "text_encoder") -> dtype name forced by a flag
    dtypes: dict[str, str] = field(default_factory=dict)
    #: the budget the manager keeps its models within on the CPU, in GB (None: total RAM less 2 GB)
    ram_budget_gb: float | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace | Any) -> DeviceConfig:
        """Read the flags :func:`add_flags` declares (absent ones take their defaults)."""
        get = lambda name, default=False: getattr(args, name, default)  # noqa: E731
        dtypes = {comp: dt for flag, (comp, dt) in DTYPE_FLAGS.items() if get(_dest(flag))}
        return cls(cpu=get("cpu"), gpu_only=get("gpu_only"), highvram=get("highvram"),
                   normalvram=get("normalvram"), lowvram=get("lowvram"), novram=get("novram"),
                   reserve_vram=get("reserve_vram", None), disable_smart_memory=get("disable_smart_memory"),
                   force_fp32=get("force_fp32"), force_fp16=get("force_fp16"), cpu_vae=get("cpu_vae"),
                   dtypes=dtypes)

    def vram_state(self, has_gpu: bool) -> str:
        """One of :data:`VRAM_STATES`; the first flag of ComfyUI's precedence wins."""
        if self.cpu or not has_gpu:
            return "cpu"
        for flag, state in (("gpu_only", "gpu_only"), ("highvram", "high"), ("novram", "no"), ("lowvram", "low"),
                            ("normalvram", "normal")):
            if getattr(self, flag):
                return state
        return "normal"


def add_flags(parser: argparse.ArgumentParser) -> None:
    """ComfyUI's device, VRAM and dtype flags (``--cpu`` among them)."""
    group = parser.add_argument_group("device")
    group.add_argument("--cpu", action="store_true", help="run everything on the CPU, even when a GPU is present")
    vram = group.add_mutually_exclusive_group()
    vram.add_argument("--gpu-only", action="store_true", help="keep every model on the GPU (text encoders, VAE)")
    vram.add_argument("--highvram", action="store_true", help="keep models on the GPU after use")
    vram.add_argument("--normalvram", action="store_true", help="the default: models on the GPU within budget")
    vram.add_argument("--lowvram", action="store_true", help="only the model in use on the GPU")
    vram.add_argument("--novram", action="store_true", help="as --lowvram, and nothing kept on the GPU")
    group.add_argument("--reserve-vram", type=float, default=None, metavar="GB",
                       help="device memory kept free for the OS and other programs (default 0.4 GB on a GPU)")
    group.add_argument("--disable-smart-memory", action="store_true",
                       help="move models back to the CPU as soon as they are done with")
    prec = group.add_mutually_exclusive_group()
    prec.add_argument("--force-fp32", action="store_true", help="every model in fp32")
    prec.add_argument("--force-fp16", action="store_true", help="the UNet in fp16 (even on the CPU)")
    group.add_argument("--cpu-vae", action="store_true", help="run the VAE on the CPU")
    for component in ("unet", "vae", "text_encoder"):
        sub = group.add_mutually_exclusive_group()
        for flag, (comp, dtype) in DTYPE_FLAGS.items():
            if comp == component:
                sub.add_argument(flag, dest=_dest(flag), action="store_true", help=f"the {comp} in {dtype}")


@dataclass(frozen=True)
class DevicePlan:
    """What :func:`probe` found: where models compute, where they wait, and the budget they share."""

    vram_state: str
    #: torch device strings: "cuda:0" / "cpu"
    compute: str
    offload: str
    vae_device: str
    text_encoder_device: str
    #: bytes of device memory kept out of the budget
    reserve_bytes: int
    #: CUDA compute capability (major, minor), None on the CPU
    capability: tuple[int, int] | None = None
    name: str = "cpu"


def probe(config: DeviceConfig) -> DevicePlan:
    """Look at the machine (imports torch): CUDA device 0 when present and not ``--cpu``, else the CPU."""
    import torch

    has_gpu = not config.cpu and torch.cuda.is_available()
    state = config.vram_state(has_gpu)
    if state == "cpu":
        return DevicePlan(state, "cpu", "cpu", "cpu", "cpu", 0)
    compute = "cuda:0"
    capability = tuple(torch.cuda.get_device_capability(0))
    reserve = int((config.reserve_vram if config.reserve_vram is not None else 0.4) * 1024 ** 3)
    vae_device = "cpu" if config.cpu_vae else compute
    return DevicePlan(state, compute, compute if state == "gpu_only" else "cpu", vae_device, compute, reserve,
                      (int(capability[0]), int(capability[1])), torch.cuda.get_device_name(0))


@dataclass(frozen=True)
class DtypePolicy:
    """The dtype each component's weights are kept in and computes in (torch dtype names).

    On the CPU: UNet fp32, VAE fp32, text encoder weights fp16 computing in fp32. On a CUDA GPU with compute
    capability 8 or more: UNet fp16, VAE bf16, text encoder fp16 (older GPUs: VAE fp32). Flags override each.
    """

    unet: str = "float32"
    vae: str = "float32"
    #: the text encoder's stored weights; ``text_encoder_compute`` is what its arithmetic runs in
    text_encoder: str = "float16"
    text_encoder_compute: str = "float32"

    def torch_dtype(self, component: str) -> Any:
        import torch

        return getattr(torch, getattr(self, component))


def dtype_policy(config: DeviceConfig, plan: DevicePlan) -> DtypePolicy:
    """ComfyUI's choice (``model_management.unet_dtype`` / ``vae_dtype`` / ``text_encoder_dtype``)."""
    gpu = plan.compute != "cpu"
    modern = plan.capability is not None and plan.capability[0] >= 8
    unet = "float16" if gpu else "float32"
    vae = ("bfloat16" if modern else "float32") if gpu and plan.vae_device != "cpu" else "float32"
    text = "float16"
    if config.force_fp16:
        unet = "float16"
    if config.force_fp32:
        unet, vae, text = "float32", "float32", "float32"
    forced = config.dtypes
    unet, vae, text = forced.get("unet", unet), forced.get("vae", vae), forced.get("text_encoder", text)
    computable = text if text in ("float16", "bfloat16", "float32") else "float16"  # fp8 storage casts up
    return DtypePolicy(unet=unet, vae=vae, text_encoder=text,
                       text_encoder_compute="float32" if not gpu else computable)


__all__ = ["DTYPE_FLAGS", "VRAM_STATES", "DeviceConfig", "DevicePlan", "DtypePolicy", "add_flags", "dtype_policy",
           "probe"]
