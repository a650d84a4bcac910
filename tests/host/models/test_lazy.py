"""Lazy weights: a loader returns at once with the file checked; weights are read when first computed with."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from host.models.errors import WeightMismatch
from host.models.lazy import LazyWeights
from host.models.loading import load_checkpoint, load_vae
from host.models.manager import ModelManager


def _is_meta(module: torch.nn.Module) -> bool:
    return all(p.is_meta for p in module.parameters())


def test_loader_reads_no_weights_until_first_use(sd15_small: Path) -> None:
    ck = load_checkpoint(sd15_small)
    parts = [(ck.model, "unet"), (ck.clip, "model"), (ck.vae, "model")]
    for value, _ in parts:
        assert isinstance(value.weights, LazyWeights) and not value.weights.loaded
        assert _is_meta(value.module)
    size = ck.model.nbytes()
    unet = ck.model.unet  # first use: the UNet alone is read
    assert ck.model.weights.loaded and not _is_meta(unet) and not any(p.is_meta for p in unet.buffers())
    assert not ck.clip.weights.loaded and not ck.vae.weights.loaded
    assert ck.model.nbytes() == size == sum(p.numel() * 4 for p in unet.parameters())
    cond, pooled = ck.clip.encode_text("a cat")
    assert ck.clip.weights.loaded and cond.shape[1] == 77 and torch.isfinite(cond).all()
    ids = ck.clip.model.transformer.embeddings.position_ids
    assert not ids.is_meta and ids.tolist() == [list(range(77))]
    assert not ck.vae.weights.loaded
    image = ck.vae.decode(torch.zeros(1, 4, 4, 4))
    assert ck.vae.weights.loaded and image.shape == (1, 32, 32, 3)


def test_lazy_weights_equal_the_file(sd15_small: Path) -> None:
    ck = load_checkpoint(sd15_small)
    sd = load_file(str(sd15_small))
    w = ck.model.unet.out[2].weight
    assert torch.equal(w, sd["model.diffusion_model.out.2.weight"].float())
    fc1 = ck.clip.model.transformer.encoder.layers[0].mlp.fc1.weight
    src = sd["cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight"]
    assert torch.equal(fc1, src.half().float())  # fp16 storage rounding, fp32 compute


def test_shape_errors_are_raised_by_the_loader_not_at_first_use(sd15_small: Path, tmp_path: Path) -> None:
    sd = load_file(str(sd15_small))
    key = "first_stage_model.decoder.conv_out.weight"
    sd[key] = torch.zeros(3, 7, 3, 3)  # wrong in-channels
    bad = tmp_path / "bad.safetensors"
    save_file(sd, str(bad))
    with pytest.raises(WeightMismatch, match="conv_out.weight"):
        load_vae(bad)


def test_first_use_from_many_threads_loads_once(sd15_small: Path) -> None:
    ck = load_checkpoint(sd15_small)
    calls = []
    real = ck.model.weights.after

    def after(module: torch.nn.Module, device: object) -> None:
        calls.append(device)
        if real is not None:
            real(module, device)

    ck.model.weights.after = after
    seen: list[torch.nn.Module] = []
    threads = [threading.Thread(target=lambda: seen.append(ck.model.unet)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(m) for m in seen}) == 1 and not _is_meta(seen[0])


def test_manager_places_without_reading_and_a_move_before_use_loads_there(sd15_small: Path) -> None:
    manager = ModelManager()
    ck = manager.load_checkpoint(sd15_small)
    manager.use(ck.model)  # the CPU: nothing to move, nothing read
    assert not ck.model.weights.loaded
    ck.vae.to("meta")  # where the weights will go when read (any device torch knows)
    assert not ck.vae.weights.loaded and ck.vae.weights.device == "meta"
    ck.vae.to("cpu")
    assert next(ck.vae.model.parameters()).device.type == "cpu"
    clone = ck.clip.clone()  # clones share the pending weights: one read serves both
    clone.encode_text("x")
    assert ck.clip.weights.loaded and ck.clip.model is clone.model
