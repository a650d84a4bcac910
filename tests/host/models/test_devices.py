"""ComfyUI's device, VRAM and dtype flags: parsing, the VRAM state they give, the dtype policy."""

from __future__ import annotations

import pytest

from host.cli import build_parser
from host.models.devices import DeviceConfig, DevicePlan, dtype_policy, probe

CPU = DevicePlan("cpu", "cpu", "cpu", "cpu", "cpu", 0)
AMPERE = DevicePlan("normal", "cuda:0", "cpu", "cuda:0", "cuda:0", 0, (8, 0), "gpu")
TURING = DevicePlan("normal", "cuda:0", "cpu", "cuda:0", "cuda:0", 0, (7, 5), "gpu")


def config(*flags: str) -> DeviceConfig:
    return DeviceConfig.from_args(build_parser().parse_args(["run", "p.json", *flags]))


@pytest.mark.parametrize(("flags", "state"), [
    ((), "normal"), (("--gpu-only",), "gpu_only"), (("--highvram",), "high"), (("--normalvram",), "normal"),
    (("--lowvram",), "low"), (("--novram",), "no"), (("--cpu", "--highvram"), "cpu")])
def test_vram_state_from_flags(flags: tuple[str, ...], state: str) -> None:
    assert config(*flags).vram_state(has_gpu=True) == state
    assert config(*flags).vram_state(has_gpu=False) == "cpu"


def test_vram_flags_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "p.json", "--lowvram", "--highvram"])


def test_reserve_vram_and_serve_accepts_the_same_flags() -> None:
    assert config("--reserve-vram", "1.5").reserve_vram == 1.5
    args = build_parser().parse_args(["serve", "--cpu", "--novram", "--fp32-vae", "--preview-method", "latent2rgb"])
    assert DeviceConfig.from_args(args).novram and args.preview_method == "latent2rgb"


def test_cpu_policy_is_comfyuis() -> None:
    """MODELS_FACTS §1: UNet and VAE fp32 on the CPU; CLIP weights fp16 computing in fp32."""
    policy = dtype_policy(config("--cpu"), CPU)
    assert (policy.unet, policy.vae, policy.text_encoder, policy.text_encoder_compute) == (
        "float32", "float32", "float16", "float32")


def test_gpu_policy_by_capability() -> None:
    assert (dtype_policy(config(), AMPERE).unet, dtype_policy(config(), AMPERE).vae) == ("float16", "bfloat16")
    assert dtype_policy(config(), TURING).vae == "float32"


@pytest.mark.parametrize(("flags", "plan", "want"), [
    (("--force-fp32",), AMPERE, ("float32", "float32", "float32")),
    (("--force-fp16",), CPU, ("float16", "float32", "float16")),
    (("--bf16-unet", "--fp16-vae", "--fp32-text-enc"), AMPERE, ("bfloat16", "float16", "float32")),
    (("--fp8_e4m3fn-unet",), AMPERE, ("float8_e4m3fn", "bfloat16", "float16")),
])
def test_dtype_flags_override(flags: tuple[str, ...], plan: DevicePlan, want: tuple[str, str, str]) -> None:
    policy = dtype_policy(config(*flags), plan)
    assert (policy.unet, policy.vae, policy.text_encoder) == want
    import torch

    assert policy.torch_dtype("unet") == getattr(torch, want[0])


def test_probe_with_cpu_flag_never_picks_a_gpu() -> None:
    plan = probe(config("--cpu"))
    assert (plan.vram_state, plan.compute, plan.offload, plan.reserve_bytes) == ("cpu", "cpu", "cpu", 0)
