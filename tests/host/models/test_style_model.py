"""Style models: the T2I style adapter and Redux layouts, style tokens from a CLIP vision output, StyleModelApply's
token concat, strength and attention bias, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from host.models.clip_vision import ClipVisionOutput
from host.models.errors import UnknownArchitecture
from host.models.style_model import ReduxImageEncoder, StyleAdapter, apply_style, load_style_model
from host.models.testing.control_layouts import write_random
from host.models.testing.vision_layouts import redux_layout, style_adapter_layout

pytestmark = pytest.mark.timeout(120)


def test_layouts_are_the_models() -> None:
    with torch.device("meta"):
        adapter, redux = StyleAdapter(), ReduxImageEncoder()
    assert {k: tuple(v.shape) for k, v in adapter.state_dict().items()} == style_adapter_layout()
    assert {k: tuple(v.shape) for k, v in redux.state_dict().items()} == redux_layout()


def test_style_tokens_from_a_clip_vision_output(tmp_path: Path) -> None:
    style = load_style_model(write_random(style_adapter_layout(64, 32, 2, 4), tmp_path / "style.safetensors"))
    assert style.kind == "t2i_style"
    out = ClipVisionOutput(last_hidden_state=torch.randn(2, 17, 64))
    assert style.get_cond(out).shape == (2, 4, 32)
    redux = load_style_model(write_random(redux_layout(16, 8), tmp_path / "redux.safetensors"))
    assert redux.kind == "redux" and redux.get_cond(out | {"last_hidden_state": torch.randn(1, 5, 16)}).shape == (
        1, 5, 8)


def test_apply_style_concatenates_scales_and_biases() -> None:
    txt, cond = torch.randn(1, 77, 32), torch.randn(1, 4, 32)
    [[c, opts]] = apply_style([[txt, {"pooled_output": None}]], cond, 0.5, "multiply")
    assert c.shape == (1, 81, 32) and torch.allclose(c[:, 77:], cond * 0.5) and "attention_mask" not in opts
    [[c, opts]] = apply_style([[txt, {}]], cond, 0.5, "attn_bias")
    assert torch.equal(c[:, 77:], cond)
    mask = opts["attention_mask"]
    assert mask.shape == (1, 82, 82) and opts["attention_mask_img_shape"] == (1, 1)
    assert math.isclose(float(mask[0, 0, 77]), math.log(0.5), rel_tol=1e-3) and float(mask[0, 0, 0]) == 0.0
    [[_, again]] = apply_style([[c, opts]], cond, 1.0, "multiply")  # a second application grows the mask
    assert again["attention_mask"].shape == (1, 86, 86)


def test_bad_style_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownArchitecture, match="invalid style model"):
        load_style_model(write_random({"foo": (3,)}, tmp_path / "foo.safetensors"))
