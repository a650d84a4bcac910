"""VAE and text encoders built on the meta device have exactly the real keys and shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from host.models.clip_model import CLIP_SPECS, ClipTextModel, convert_open_clip
from host.models.testing.layouts import clip_l_layout, open_clip_layout, vae_layout
from host.models.testing.make_checkpoint import layout
from host.models.vae import AutoencoderKL

SHARED_TOOL = Path("/work/shared/tools/make_sd15_checkpoint.py")


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_vae_248_keys() -> None:
    with torch.device("meta"):
        ours = _shapes(AutoencoderKL())
    assert len(ours) == 248 and ours == vae_layout()


def test_clip_l_196_keys_plus_position_ids() -> None:
    with torch.device("meta"):
        ours = _shapes(ClipTextModel(CLIP_SPECS["l"]))
    real = clip_l_layout()
    assert len(real) == 197 and real.pop("embeddings.position_ids") == (1, 77)
    assert ours == {"transformer." + k: v for k, v in real.items()} and len(ours) == 196


def test_open_clip_h_converted() -> None:
    real = {k: torch.empty(s, device="meta") for k, s in open_clip_layout().items()}
    converted = {k: tuple(v.shape) for k, v in convert_open_clip(real).items()}
    with torch.device("meta"):
        ours = _shapes(ClipTextModel(CLIP_SPECS["h"]))
    assert converted == ours and len(ours) == 24 * 16 + 5


def test_full_size_checkpoint_layouts() -> None:
    sd15 = layout("sd15", "full")
    assert len(sd15) == 686 + 248 + 197
    assert len(layout("sd21", "full")) == 686 + 248 + len(open_clip_layout())


@pytest.mark.skipif(not SHARED_TOOL.exists(), reason="../shared is not beside the checkout")
def test_sd15_full_equals_the_reference_tool() -> None:
    sys.path.insert(0, str(SHARED_TOOL.parent))
    try:
        import make_sd15_checkpoint as tool
    finally:
        sys.path.remove(str(SHARED_TOOL.parent))
    assert {k: tuple(v) for k, v in tool.all_shapes("sd15").items()} == layout("sd15", "full")
