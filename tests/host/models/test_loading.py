"""Loading small random checkpoints; forward passes of UNet, VAE, CLIP; bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from host.models.errors import CorruptModelFile, ModelFileNotFound, UnknownArchitecture
from host.models.loading import load_checkpoint, load_clip, load_unet, load_vae


@pytest.fixture(scope="module")
def ckpt(sd15_small: Path):  # type: ignore[no-untyped-def]
    return load_checkpoint(sd15_small)


def test_sd15_small_loads_with_comfyui_dtypes(ckpt) -> None:  # type: ignore[no-untyped-def]
    assert ckpt.family.name == "sd15" and ckpt.model.prediction == "eps" and ckpt.model.latent_scale == 0.18215
    assert ckpt.model.dtype == torch.float32 and next(ckpt.model.unet.parameters()).dtype == torch.float32
    assert next(ckpt.vae.model.parameters()).dtype == torch.float32
    w = ckpt.clip.model.transformer.encoder.layers[0].mlp.fc1.weight
    assert w.dtype == torch.float32 and torch.equal(w, w.half().float())  # fp16-rounded weights, fp32 compute
    assert ckpt.model.nbytes() > 0 and ckpt.vae.nbytes() > 0


def test_unet_forward(ckpt) -> None:  # type: ignore[no-untyped-def]
    cond, _ = ckpt.clip.encode_text("a cat")
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        out = ckpt.model.unet(x, torch.tensor([999.0, 1.0]), context=torch.cat([cond, cond]))
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.allclose(out[0], out[1])


def test_vae_round_trip_shapes(ckpt) -> None:  # type: ignore[no-untyped-def]
    image = ckpt.vae.decode(torch.randn(1, 4, 6, 5))
    assert image.shape == (1, 48, 40, 3) and image.min() >= 0 and image.max() <= 1
    samples = ckpt.vae.encode(torch.rand(1, 52, 43, 3))  # cropped to 48 x 40
    assert samples.shape == (1, 4, 6, 5)
    tiled = ckpt.vae.decode_tiled(torch.randn(1, 4, 12, 12), tile_x=8, tile_y=8, overlap=2)
    assert tiled.shape == (1, 96, 96, 3)
    latent = torch.randn(1, 4, 8, 8)
    whole = ckpt.vae.decode(latent)
    assert (ckpt.vae.decode_tiled(latent, 64, 64, 16) - whole).abs().max() < 1e-5  # one tile = no tiling
    assert ckpt.vae.encode_tiled(torch.rand(1, 80, 64, 3), 32, 32, 8).shape == (1, 4, 10, 8)


def test_clip_weighting_interpolates_from_the_empty_prompt(ckpt) -> None:  # type: ignore[no-untyped-def]
    clip = ckpt.clip
    plain, pooled = clip.encode_text("a cat")
    weighted, pooled_w = clip.encode_text("a (cat:1.5)")
    empty, _ = clip.encode_text("")
    assert plain.shape == (1, 77, 768) and pooled.shape == (1, 768)
    assert torch.allclose(pooled, pooled_w)  # pooled is never weighted
    expected = (plain[0, 2] - empty[0, 2]) * 1.5 + empty[0, 2]
    assert torch.allclose(weighted[0, 2], expected, atol=1e-5)
    assert torch.allclose(weighted[0, 1], plain[0, 1], atol=1e-5)


def test_long_prompt_and_clip_skip(ckpt) -> None:  # type: ignore[no-untyped-def]
    long, _ = ckpt.clip.encode_text(" ".join(["cat"] * 100))
    assert long.shape == (1, 154, 768)
    skipped = ckpt.clip.clone()
    skipped.set_last_layer(-2)
    assert ckpt.clip.layer is None and skipped.layer == -2
    a, pa = ckpt.clip.encode_text("a cat")
    b, pb = skipped.encode_text("a cat")
    assert not torch.allclose(a, b) and torch.allclose(pa, pb)
    skipped.set_last_layer(-1)
    assert torch.allclose(skipped.encode_text("a cat")[0], a)


def test_embedding_from_dir(ckpt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_file({"emb_params": torch.randn(2, 768)}, str(tmp_path / "style.safetensors"))
    torch.save({"string_to_param": {"*": torch.randn(1, 768)}}, tmp_path / "old.pt")
    clip = ckpt.clip.clone()
    clip.embedding_dirs = [tmp_path]
    toks = clip.tokenize("a embedding:style embedding:old cat")
    assert sum(1 for t, _ in toks.chunks[0] if not isinstance(t, int)) == 3
    with_emb, _ = clip.encode(toks)
    without, _ = clip.encode_text("a cat")
    assert with_emb.shape == without.shape and not torch.allclose(with_emb, without)


def test_sd21_small(sd21_small: Path) -> None:
    ck = load_checkpoint(sd21_small, want_vae=False)
    assert ck.family.name == "sd20" and ck.family.clip_kind == "h" and ck.vae is None
    cond, pooled = ck.clip.encode_text("a cat")
    assert cond.shape == (1, 77, 1024) and pooled.shape == (1, 1024) and ck.clip.layer == -2
    assert ck.clip.tokenize("a cat").ids()[0][7:] == [0] * 70  # SD2 pads with 0


def test_separate_files(ckpt, sd15_small: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from host.models.checkpoint import open_state_dict

    sd = open_state_dict(sd15_small)
    for name, prefix in (("unet", "model.diffusion_model."), ("vae", "first_stage_model."),
                         ("clip", "cond_stage_model.")):
        save_file({k[len(prefix):]: sd[k] for k in sd if k.startswith(prefix)}, str(tmp_path / f"{name}.safetensors"))
    unet = load_unet(tmp_path / "unet.safetensors")
    assert unet.family.name == "sd15"
    assert torch.equal(unet.unet.out[2].weight, ckpt.model.unet.out[2].weight)
    assert load_vae(tmp_path / "vae.safetensors").latent_channels == 4
    clip = load_clip(tmp_path / "clip.safetensors", "stable_diffusion")
    assert torch.allclose(clip.encode_text("a cat")[0], ckpt.clip.encode_text("a cat")[0])


def test_bad_files(tmp_path: Path, sd15_small: Path) -> None:
    with pytest.raises(ModelFileNotFound, match="missing.safetensors"):
        load_checkpoint(tmp_path / "missing.safetensors")
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(sd15_small.read_bytes()[: 1 << 20])
    with pytest.raises(CorruptModelFile, match="trunc.safetensors"):
        load_checkpoint(trunc)
    other = tmp_path / "other.safetensors"
    save_file({"some.linear.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(UnknownArchitecture, match="other.safetensors.*some.linear"):
        load_checkpoint(other)
    with pytest.raises(UnknownArchitecture, match="other.safetensors"):
        load_vae(other)
    with pytest.raises(UnknownArchitecture, match="other.safetensors"):
        load_clip(other)
