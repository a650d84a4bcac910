"""fp8 weight storage (UNETLoader's weight_dtype, --fp8_e4m3fn-unet): weights kept in fp8, cast per layer to the
compute dtype, so the UNet computes what an fp32 UNet with fp8-rounded weights computes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host.models.devices import DeviceConfig, DevicePlan, dtype_policy
from host.models.loading import compute_dtype, load_unet


@pytest.mark.parametrize(("choice", "dtype"), [("fp8_e4m3fn", torch.float8_e4m3fn),
                                               ("fp8_e4m3fn_fast", torch.float8_e4m3fn),
                                               ("fp8_e5m2", torch.float8_e5m2)])
def test_fp8_weights_compute_as_rounded_fp32(sd15_small: Path, choice: str, dtype: torch.dtype) -> None:
    fp8 = load_unet(sd15_small, weight_dtype=choice)
    ref = load_unet(sd15_small)
    assert fp8.dtype == torch.float32 and fp8.nbytes() * 4 == ref.nbytes()
    assert {p.dtype for p in fp8.unet.parameters()} == {dtype}
    with torch.no_grad():
        for p_ref, p8 in zip(ref.unet.parameters(), fp8.unet.parameters(), strict=True):
            p_ref.copy_(p8.float())  # the fp32 UNet with the same rounded weights
        torch.manual_seed(0)
        x, ctx = torch.randn(2, 4, 8, 8), torch.randn(2, 77, 768)
        t = torch.tensor([999.0, 10.0])
        out8 = fp8.unet(x, t, context=ctx)
        out32 = ref.unet(x, t, context=ctx)
    assert out8.dtype == torch.float32 and torch.isfinite(out8).all()
    assert torch.allclose(out8, out32, atol=1e-4, rtol=1e-4)


def test_default_keeps_the_policy_dtype_and_fp8_computes_up(sd15_small: Path) -> None:
    assert next(load_unet(sd15_small, weight_dtype="default").unet.parameters()).dtype == torch.float32
    assert compute_dtype(torch.float8_e4m3fn, "cpu") == torch.float32
    assert compute_dtype(torch.float8_e5m2, "cuda") == torch.float16
    assert compute_dtype(torch.bfloat16, "cuda") == torch.bfloat16


def test_fp8_text_encoder_flag_computes_in_fp16_on_a_gpu() -> None:
    config = DeviceConfig(dtypes={"text_encoder": "float8_e4m3fn"})
    gpu = DevicePlan("normal", "cuda:0", "cpu", "cuda:0", "cuda:0", 0, (8, 9), "gpu")
    policy = dtype_policy(config, gpu)
    assert (policy.text_encoder, policy.text_encoder_compute) == ("float8_e4m3fn", "float16")
