"""SDXL base and refiner on small random checkpoints: loading, the two text encoders (checked against
transformers' own forward pass), tokens, the ADM vector, sampling with size conditioning, and the text-encoder
files CLIPLoader / DualCLIPLoader take."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from host.models.adm import AdmEncoder, ConditioningMismatch, embed_numbers, refiner_y, sdxl_y
from host.models.checkpoint import open_state_dict
from host.models.clip_model import convert_open_clip
from host.models.clip_sdxl import NotSDXLBaseClip, SDXLTextEncoder, require_sdxl_base
from host.models.errors import UnsupportedTextEncoder
from host.models.loading import load_checkpoint, load_clip, load_dual_clip
from host.models.prompt import END
from host.models.sampling import ksampler

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def base(sdxl_small: Path):  # type: ignore[no-untyped-def]
    return load_checkpoint(sdxl_small)


@pytest.fixture(scope="module")
def refiner(sdxl_refiner_small: Path):  # type: ignore[no-untyped-def]
    return load_checkpoint(sdxl_refiner_small)


def test_base_and_refiner_load_every_key(base, refiner) -> None:  # type: ignore[no-untyped-def]
    assert (base.family.name, base.model.latent_scale, base.unused_keys) == ("sdxl", 0.13025, [])
    assert (refiner.family.name, refiner.model.latent_scale, refiner.unused_keys) == ("sdxl_refiner", 0.13025, [])
    assert isinstance(base.clip, SDXLTextEncoder) and base.clip.layer == -2
    assert refiner.clip.kind == "g" and refiner.clip.layer == -2
    w = base.clip.g.model.text_projection.weight
    assert w.dtype == torch.float32 and torch.equal(w, w.half().float())  # fp16-rounded, fp32 compute


def _hf(clip, text: str):  # type: ignore[no-untyped-def]
    """transformers' own forward pass of a TextEncoder's model on the prompt's first chunk."""
    ids = torch.tensor([clip.tokenize(text).ids()[0]])
    with torch.no_grad():
        return clip.model.transformer(input_ids=ids, output_hidden_states=True)


def test_cond_is_l_and_g_penultimate_without_final_norm_pooled_from_g(base) -> None:  # type: ignore[no-untyped-def]
    cond, pooled = base.clip.encode_text("a cat on a mat")
    assert cond.shape == (1, 77, 2048) and pooled.shape == (1, 1280)
    hl, hg = _hf(base.clip.l, "a cat on a mat"), _hf(base.clip.g, "a cat on a mat")
    torch.testing.assert_close(cond[0, :, :768], hl.hidden_states[-2][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cond[0, :, 768:], hg.hidden_states[-2][0], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        projected = base.clip.g.model.text_projection(hg.pooler_output)
    torch.testing.assert_close(pooled, projected, atol=1e-5, rtol=1e-5)
    skip = base.clip.clone()
    skip.set_last_layer(-1)  # SDXL at -1: the last layer, still un-normalised
    last, _ = skip.encode_text("a cat on a mat")
    torch.testing.assert_close(last[0, :, :768], hl.hidden_states[-1][0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(last[0, :, :768], hl.last_hidden_state[0], atol=1e-3)
    assert base.clip.layer == -2  # the clone's layer is its own


def test_tokens_pad_per_encoder_and_pairs_are_padded_with_empty_chunks(base) -> None:  # type: ignore[no-untyped-def]
    tokens = base.clip.tokenize("a cat")
    assert tokens.l.ids()[0][3:] == [END] * 74  # CLIP-L pads with the end token
    assert tokens.g.ids()[0][3] == END and tokens.g.ids()[0][4:] == [0] * 73  # bigG with 0
    pair = base.clip.tokenize_pair(" ".join(["word"] * 100), "a cat")
    assert len(pair.g.chunks) == len(pair.l.chunks) == 2
    assert pair.l.ids()[1] == base.clip.tokenize("").l.ids()[0]
    cond, pooled = base.clip.encode(pair)
    assert cond.shape == (1, 154, 2048) and pooled.shape == (1, 1280)


def test_embedding_for_both_encoders(base, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save_file({"clip_l": torch.randn(2, 768), "clip_g": torch.randn(2, 1280)}, str(tmp_path / "style.safetensors"))
    clip = base.clip.clone()
    clip.embedding_dirs = [tmp_path]
    tokens = clip.tokenize("embedding:style cat")
    assert tokens.l.chunks[0][1][0].shape == (768,) and tokens.g.chunks[0][1][0].shape == (1280,)
    assert not torch.allclose(clip.encode(tokens)[0], base.clip.encode_text("cat")[0])


def test_adm_vector() -> None:
    assert torch.equal(embed_numbers([0.0]), torch.cat([torch.ones(1, 128), torch.zeros(1, 128)], dim=1))
    pooled = torch.randn(1, 1280)
    y = sdxl_y({"pooled_output": pooled, "width": 640, "height": 832, "crop_w": 8, "crop_h": 16}, (16, 16))
    assert y.shape == (1, 2816) and torch.equal(y[:, :1280], pooled)
    order = [832, 640, 16, 8, 832, 640]  # h, w, crop_h, crop_w, target_h, target_w (targets default to h, w)
    assert torch.equal(y[:, 1280:], embed_numbers(order))
    plain = sdxl_y({"pooled_output": pooled}, (16, 24))  # plain CLIPTextEncode: 8 x the latent's size
    assert torch.equal(plain[:, 1280:], embed_numbers([128, 192, 0, 0, 128, 192]))
    pos, neg = refiner_y({"pooled_output": pooled}, (8, 8), "positive"), refiner_y({"pooled_output": pooled}, (8, 8),
                                                                                   "negative")
    assert pos.shape == (1, 2560)
    assert torch.equal(pos[:, 1280:], embed_numbers([64, 64, 0, 0, 6.0]))
    assert torch.equal(neg[:, 1280:], embed_numbers([64, 64, 0, 0, 2.5]))
    given = refiner_y({"pooled_output": pooled, "aesthetic_score": 3.0}, (8, 8), "negative")
    assert torch.equal(given[:, -256:], embed_numbers([3.0]))


def test_conditioning_of_another_family_is_a_clear_error() -> None:
    adm = AdmEncoder("sdxl", 2048)
    with pytest.raises(ConditioningMismatch, match="2048-wide.*768-wide"):
        adm(torch.zeros(1, 77, 768), {"pooled_output": torch.zeros(1, 768)}, (8, 8), "positive")
    with pytest.raises(ConditioningMismatch, match="pooled output.*768-wide"):
        adm(torch.zeros(1, 77, 2048), {"pooled_output": torch.zeros(1, 768)}, (8, 8), "positive")
    with pytest.raises(ConditioningMismatch, match="pooled_output"):
        adm(torch.zeros(1, 77, 2048), {}, (8, 8), "positive")
    with pytest.raises(ConditioningMismatch, match="refiner's CLIP-G"):
        AdmEncoder("sdxl_refiner", 1280)(torch.zeros(1, 77, 2048), {}, (8, 8), "positive")


def _sample(ckpt, positive, negative, seed: int = 3):  # type: ignore[no-untyped-def]
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    return ksampler(ckpt.model, seed=seed, steps=2, cfg=5.0, sampler_name="euler", scheduler="normal",
                    positive=positive, negative=negative, latent=latent)


def test_plain_encode_takes_the_latent_size_defaults(base) -> None:  # type: ignore[no-untyped-def]
    cond, pooled = base.clip.encode_text("a cat")
    ncond, npooled = base.clip.encode_text("")
    plain = _sample(base, [[cond, {"pooled_output": pooled}]], [[ncond, {"pooled_output": npooled}]])
    size = {"width": 64, "height": 64, "crop_w": 0, "crop_h": 0, "target_width": 64, "target_height": 64}
    explicit = _sample(base, [[cond, {"pooled_output": pooled, **size}]],
                       [[ncond, {"pooled_output": npooled, **size}]])
    assert torch.isfinite(plain).all() and torch.equal(plain, explicit)
    other = _sample(base, [[cond, {"pooled_output": pooled, "width": 1024, "height": 1024}]],
                    [[ncond, {"pooled_output": npooled}]])
    assert not torch.allclose(plain, other)
    assert torch.equal(plain, _sample(base, [[cond, {"pooled_output": pooled}]], [[ncond, {"pooled_output": npooled}]]))


def test_refiner_samples_and_refuses_base_conditioning(base, refiner) -> None:  # type: ignore[no-untyped-def]
    cond, pooled = refiner.clip.encode_text("a cat")
    out = _sample(refiner, [[cond, {"pooled_output": pooled}]], [[cond, {"pooled_output": pooled}]])
    assert out.shape == (1, 4, 8, 8) and torch.isfinite(out).all()
    bcond, bpooled = base.clip.encode_text("a cat")
    with pytest.raises(ConditioningMismatch, match="1280-wide"):
        _sample(refiner, [[bcond, {"pooled_output": bpooled}]], [[bcond, {"pooled_output": bpooled}]])
    with pytest.raises(NotSDXLBaseClip, match="refiner"):
        require_sdxl_base(refiner.clip, "CLIPTextEncodeSDXL")


@pytest.fixture(scope="module")
def encoder_files(sdxl_small: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CLIP-L (transformers layout), bigG in OpenCLIP's layout, and bigG as transformers + text_projection."""
    sd = open_state_dict(sdxl_small)
    out = tmp_path_factory.mktemp("te")
    lp, gp = "conditioner.embedders.0.transformer.", "conditioner.embedders.1.model."
    save_file({k[len(lp):]: sd[k] for k in sd if k.startswith(lp)}, str(out / "clip_l.safetensors"))
    g = {k[len(gp):]: sd[k] for k in sd if k.startswith(gp)}
    save_file(g, str(out / "clip_g_openclip.safetensors"))
    hf = {("text_model." + k[len("transformer."):] if k.startswith("transformer.") else k): v.contiguous()
          for k, v in convert_open_clip(g).items()}
    save_file(hf, str(out / "clip_g.safetensors"))
    return {"l": out / "clip_l.safetensors", "g_oc": out / "clip_g_openclip.safetensors",
            "g": out / "clip_g.safetensors"}


def test_dual_clip_loader_files_either_order(base, encoder_files) -> None:  # type: ignore[no-untyped-def]
    want = base.clip.encode_text("a red cube")
    for pair in ((encoder_files["l"], encoder_files["g_oc"]), (encoder_files["g"], encoder_files["l"])):
        clip = load_dual_clip(pair, "sdxl")
        got = clip.encode_text("a red cube")
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_dual_clip_loader_refuses(encoder_files) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedTextEncoder, match="clip_l.safetensors.*CLIP-L too"):
        load_dual_clip((encoder_files["l"], encoder_files["l"]), "sdxl")
    with pytest.raises(UnsupportedTextEncoder, match="'flux'"):
        load_dual_clip((encoder_files["l"], encoder_files["g"]), "flux")


def test_clip_loader_types(refiner, encoder_files) -> None:  # type: ignore[no-untyped-def]
    g = load_clip(encoder_files["g"], "stable_diffusion")  # bigG alone: the refiner's encoder
    cond, pooled = g.encode_text("a cat")
    assert g.kind == "g" and cond.shape == (1, 77, 1280) and pooled.shape == (1, 1280)
    l_clip = load_clip(encoder_files["l"], "stable_diffusion")  # CLIP-L alone: SD1's (last layer, normalised)
    assert l_clip.kind == "l" and l_clip.layer is None
    with pytest.raises(UnsupportedTextEncoder, match="type 'wan'"):
        load_clip(encoder_files["l"], "wan")
