"""The LoRA-family deltas against their formulas written out here: scale alpha/rank (1 without alpha), strength,
strength_model, LoCon's mid core, LoHa (plain and CP), LoKr (full and decomposed factors), diff/diff_b, set,
DoRA, offsets, nested (merge) patches; and reading each naming style."""

from __future__ import annotations

import pytest
import torch

from host.models.lora import Diff, LoHa, LoKr, LoRA, Patch, SetWeight, as_adapter, calculate_weight
from host.models.lora_read import read_patches

torch.manual_seed(0)


def r(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64).float()


def patched(adapter, weight: torch.Tensor, strength: float = 1.0, strength_model: float = 1.0) -> torch.Tensor:
    return calculate_weight([Patch(strength, adapter, strength_model)], weight.clone())


def test_lora_linear_alpha_over_rank_times_strength() -> None:
    w, up, down = r(6, 5), r(6, 3), r(3, 5)
    out = patched(LoRA(up, down, alpha=1.5), w, strength=0.7)
    torch.testing.assert_close(out, w + 0.7 * (1.5 / 3) * up @ down)


def test_lora_without_alpha_scales_by_one_and_strength_model_scales_the_weight() -> None:
    w, up, down = r(4, 4), r(4, 2), r(2, 4)
    torch.testing.assert_close(patched(LoRA(up, down), w, 2.0, 0.5), 0.5 * w + 2.0 * up @ down)


def test_lora_conv_and_locon_mid() -> None:
    w = r(8, 4, 3, 3)
    up, down = r(8, 2, 1, 1), r(2, 4, 3, 3)
    expect = w + (up.flatten(1) @ down.flatten(1)).reshape(w.shape)
    torch.testing.assert_close(patched(LoRA(up, down, alpha=2.0), w), expect)
    down1, mid = r(2, 4, 1, 1), r(2, 2, 3, 3)
    core = torch.einsum("r s h w, s i -> r i h w", mid, down1[:, :, 0, 0])  # mid applied after down
    delta = torch.einsum("o r, r i h w -> o i h w", up[:, :, 0, 0], core)
    torch.testing.assert_close(patched(LoRA(up, down1, alpha=1.0, mid=mid), w), w + 0.5 * delta,
                               rtol=1e-4, atol=1e-4)


def test_loha_hadamard_product() -> None:
    w, a1, b1, a2, b2 = r(6, 5), r(6, 2), r(2, 5), r(6, 2), r(2, 5)
    torch.testing.assert_close(patched(LoHa(a1, b1, a2, b2, alpha=1.0), w, 0.5), w + 0.5 * 0.5 * (a1 @ b1) * (a2 @ b2))


def test_loha_cp_conv() -> None:
    w = r(6, 4, 3, 3)
    a1, b1, a2, b2, t1, t2 = r(2, 6), r(2, 4), r(2, 6), r(2, 4), r(2, 2, 3, 3), r(2, 2, 3, 3)
    m = [torch.einsum("i j k l, j r, i p -> p r k l", t, b, a) for t, b, a in ((t1, b1, a1), (t2, b2, a2))]
    torch.testing.assert_close(patched(LoHa(a1, b1, a2, b2, None, t1, t2), w), w + m[0] * m[1])


def test_lokr_kronecker_full_and_decomposed() -> None:
    w, w1, w2 = r(6, 8), r(2, 4), r(3, 2)
    torch.testing.assert_close(patched(LoKr(w1, w2, alpha=5.0), w), w + torch.kron(w1, w2))  # full: alpha unused
    a, b = r(3, 1), r(1, 2)
    torch.testing.assert_close(patched(LoKr(w1, None, 0.5, w2a=a, w2b=b), w), w + 0.5 * torch.kron(w1, a @ b))


def test_lokr_conv_factor() -> None:
    w, w1, w2 = r(4, 6, 3, 3), r(2, 3), r(2, 2, 3, 3)
    torch.testing.assert_close(patched(LoKr(w1, w2), w), w + torch.kron(w1[:, :, None, None], w2))


def test_diff_set_and_offset() -> None:
    w, d = r(4, 3), r(4, 3)
    torch.testing.assert_close(patched(Diff(d), w, 0.25), w + 0.25 * d)
    torch.testing.assert_close(patched(SetWeight(d), w), d)
    out = calculate_weight([Patch(1.0, Diff(torch.ones(2, 3)), 1.0, (0, 1, 2))], w.clone())
    torch.testing.assert_close(out[1:3], w[1:3] + 1) and torch.testing.assert_close(out[[0, 3]], w[[0, 3]])


def test_dora_renormalises_to_the_stored_magnitude() -> None:
    w, up, down = r(4, 3), r(4, 2), r(2, 3)
    scale = torch.rand(4, 1) + 0.5
    out = patched(LoRA(up, down, alpha=2.0, dora_scale=scale), w)
    updated = w + up @ down
    torch.testing.assert_close(out, updated * scale / (w.norm(dim=1, keepdim=True) + torch.finfo(torch.float32).eps))
    half = patched(LoRA(up, down, alpha=2.0, dora_scale=scale), w, 0.5)
    torch.testing.assert_close(half, w + 0.5 * (out - w))


def test_nested_patches_merge_another_weight() -> None:
    w, other, d = r(3, 3), r(3, 3), r(3, 3)
    nested = as_adapter([(other, None), Patch(1.0, Diff(d))])
    torch.testing.assert_close(patched(nested, w, 0.3, 0.7), 0.7 * w + 0.3 * (other + d))


def test_comfy_tuple_forms() -> None:
    t = r(2, 2)
    assert isinstance(as_adapter((t,)), Diff) and isinstance(as_adapter(("set", (t,))), SetWeight)
    assert as_adapter(("diff", (t, {"pad_weight": True}))).pad_weight
    with pytest.raises(TypeError):
        as_adapter("nope")


def test_fits() -> None:
    assert LoRA(r(6, 2), r(2, 5)).fits((6, 5)) and not LoRA(r(6, 2), r(2, 5)).fits((5, 6))
    assert LoRA(r(8, 2, 1, 1), r(2, 4, 3, 3)).fits((8, 4, 3, 3))
    assert not Diff(r(2, 3)).fits((3, 2))
    assert LoKr(r(2, 4), r(3, 2)).fits((6, 8))


@pytest.mark.parametrize(("up", "down"), [("lora_up.weight", "lora_down.weight"), ("lora_B.weight", "lora_A.weight"),
                                          ("lora.up.weight", "lora.down.weight"), ("lora_B", "lora_A"),
                                          ("lora_linear_layer.up.weight", "lora_linear_layer.down.weight"),
                                          ("lora_B.default.weight", "lora_A.default.weight")])
def test_reading_lora_naming_styles(up: str, down: str) -> None:
    sd = {f"m.{up}": r(4, 2), f"m.{down}": r(2, 3), "m.alpha": torch.tensor(1.0), "other": r(1)}
    patches, used = read_patches(sd, {"m": "x.weight"})
    lora = patches["x.weight"]
    assert isinstance(lora, LoRA) and lora.scale() == 0.5 and used == {f"m.{up}", f"m.{down}", "m.alpha"}


def test_reading_processor_style_and_bias_diffs() -> None:
    sd = {"m_lora.up.weight": r(4, 2), "m_lora.down.weight": r(2, 3), "n.diff": r(4, 3), "n.diff_b": r(4),
          "n.w_norm": r(4), "k.hada_w1_a": r(4, 1), "k.hada_w1_b": r(1, 3), "k.hada_w2_a": r(4, 1),
          "k.hada_w2_b": r(1, 3), "j.lokr_w1": r(2, 2), "j.lokr_w2": r(2, 2)}
    patches, used = read_patches(sd, {"m": "a.weight", "n": "b.weight", "k": "c.weight", "j": "d.weight"})
    assert isinstance(patches["a.weight"], LoRA) and isinstance(patches["c.weight"], LoHa)
    assert isinstance(patches["d.weight"], LoKr) and isinstance(patches["b.bias"], Diff)
    assert used == set(sd)
