"""SD2.1 unCLIP: detection, the noise augmentation schedule, the class embedding y per entry, its zeros without
unCLIP conditioning."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from host.models.clip_vision import ClipVisionOutput
from host.models.detect import detect_family
from host.models.testing.vision_layouts import write_unclip_checkpoint
from host.models.unclip import _sqrt_alphas, model_adm, noise_augment, unclip_adm
from host.models.unet import timestep_embedding

pytestmark = pytest.mark.timeout(120)


def test_unclip_checkpoint_is_detected(tmp_path: Path) -> None:
    from host.models.checkpoint import open_state_dict

    path = write_unclip_checkpoint(tmp_path / "unclip_h.safetensors")
    family = detect_family(open_state_dict(path), path)
    assert family.name == "sd21_unclip_h" and family.unet.adm_in_channels == 2048 and family.clip_kind == "h"
    path = write_unclip_checkpoint(tmp_path / "unclip_l.safetensors", adm=1536)
    assert detect_family(open_state_dict(path), path).name == "sd21_unclip_l"


def test_squaredcos_schedule() -> None:
    sqrt_a, sqrt_1ma = _sqrt_alphas()
    assert sqrt_a.shape == (1000,) and torch.allclose(sqrt_a**2 + sqrt_1ma**2, torch.ones(1000), atol=1e-5)
    assert float(sqrt_a[0]) > 0.999 and float(sqrt_a[-1]) < 0.01


def test_noise_augmentation_is_seeded() -> None:
    x = torch.randn(1, 8)
    z0, emb0 = noise_augment(x, 0, seed=5)
    assert torch.allclose(z0, x, atol=0.05) and torch.equal(emb0, timestep_embedding(torch.tensor([0]), 8))
    a, _ = noise_augment(x, 500, seed=5)
    b, _ = noise_augment(x, 500, seed=5)
    assert torch.equal(a, b) and not torch.allclose(a, x, atol=0.1)


def test_unclip_adm_per_entry() -> None:
    out = ClipVisionOutput(image_embeds=torch.randn(1, 1024))
    y = unclip_adm([{"clip_vision_output": out, "strength": 2.0, "noise_augmentation": 0.0}], 2048, seed=0)
    z, emb = noise_augment(out.image_embeds, 0, seed=0)
    assert y.shape == (1, 2048) and torch.allclose(y, torch.cat((z, emb), 1) * 2.0)
    two = unclip_adm([{"clip_vision_output": out, "strength": 1.0, "noise_augmentation": 0.1}] * 2, 2048, seed=0)
    assert two.shape == (1, 2048)
    model = SimpleNamespace(family=SimpleNamespace(name="sd21_unclip_h", unet=SimpleNamespace(adm_in_channels=2048)))
    assert torch.equal(model_adm(model, {}, seed=3), torch.zeros(1, 2048))
    assert model_adm(SimpleNamespace(family=SimpleNamespace(name="sd15")), {}, seed=3) is None
