"""host.models.ops.Conv2d: the cached reordered CPU weight gives F.conv2d's results and follows weight changes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from host.models import ops


@pytest.mark.parametrize(("cin", "cout", "k", "stride", "size"), [
    (8, 16, 3, 1, 4), (16, 8, 1, 1, 6), (8, 8, 3, 2, 8), (4, 8, 3, 1, 32), (4, 8, 3, 1, 40)])
def test_equals_conv2d(cin: int, cout: int, k: int, stride: int, size: int) -> None:
    torch.manual_seed(0)
    conv = ops.Conv2d(cin, cout, k, stride=stride, padding=k // 2).eval()
    x = torch.randn(2, cin, size, size)
    with torch.no_grad():
        out = conv(x)
        ref = F.conv2d(x, conv.weight, conv.bias, stride=stride, padding=k // 2)
    assert out.shape == ref.shape and out.is_contiguous()
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
    assert (conv._packed is not None) == (size * size <= ops.PACK_MAX_PIXELS)


def test_follows_in_place_weight_changes_and_casts() -> None:
    torch.manual_seed(0)
    conv = ops.Conv2d(8, 8, 3, padding=1).eval()
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        before = conv(x)
        conv.weight.add_(1.0)  # as a LoRA patch does
        after = conv(x)
        assert torch.allclose(after, F.conv2d(x, conv.weight, conv.bias, padding=1), atol=1e-4)
        assert not torch.allclose(before, after)
        conv.double()
        assert conv._packed is None
        assert torch.allclose(conv(x.double()), F.conv2d(x.double(), conv.weight, conv.bias, padding=1))


def test_training_mode_with_grad_uses_the_plain_path() -> None:
    conv = ops.Conv2d(4, 4, 3, padding=1)
    x = torch.randn(1, 4, 4, 4, requires_grad=True)
    conv(x).sum().backward()
    assert x.grad is not None and conv._packed is None
