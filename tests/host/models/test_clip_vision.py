"""CLIP vision: the key layout is CLIPVisionModelWithProjection's, OpenCLIP towers convert to the same network,
encode shapes, preprocessing (crop / squash, 8-bit rounding, normalisation), bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host.models.clip_vision import CLIP_MEAN, CLIP_STD, ClipVisionOutput, load_clip_vision, preprocess
from host.models.errors import CorruptModelFile, UnknownArchitecture
from host.models.testing.control_layouts import write_random
from host.models.testing.vision_layouts import open_clip_visual_layout, vision_layout

pytestmark = pytest.mark.timeout(120)

TINY = {"width": 64, "layers": 3, "mlp": 128, "patch": 8, "image_size": 32, "projection": 48}


def test_vit_h_layout_is_transformers_model() -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                           image_size=224, patch_size=14, projection_dim=1024)
    with torch.device("meta"):
        model = CLIPVisionModelWithProjection(cfg)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    assert ours == vision_layout()


def test_encode_shapes(tmp_path: Path) -> None:
    cv = load_clip_vision(write_random(vision_layout(**TINY), tmp_path / "cv.safetensors"))
    assert cv.image_size == 32 and cv.dtype == torch.float32 and cv.spec.act == "gelu"
    out = cv.encode_image(torch.rand(2, 40, 50, 3))
    assert isinstance(out, ClipVisionOutput)
    assert out["last_hidden_state"].shape == (2, 17, 64) and out.penultimate_hidden_states.shape == (2, 17, 64)
    assert out.image_embeds.shape == (2, 48)
    assert not torch.equal(out.last_hidden_state, out.penultimate_hidden_states)
    squashed = cv.encode_image(torch.rand(2, 40, 50, 3), crop=False)
    assert squashed.image_embeds.shape == (2, 48)


def test_open_clip_tower_is_the_same_network(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    oc = write_random(open_clip_visual_layout(**TINY), tmp_path / "oc.safetensors", prefix="embedder.model.visual.")
    a = load_clip_vision(oc)
    sd = load_file(str(oc))
    width = TINY["width"]
    hf = {}  # the same weights written in transformers names by hand
    p = "embedder.model.visual."
    hf["vision_model.embeddings.patch_embedding.weight"] = sd[p + "conv1.weight"]
    hf["vision_model.embeddings.class_embedding"] = sd[p + "class_embedding"]
    hf["vision_model.embeddings.position_embedding.weight"] = sd[p + "positional_embedding"]
    hf["visual_projection.weight"] = sd[p + "proj"].t().contiguous()
    for a_name, b_name in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        for s in ("weight", "bias"):
            hf[f"vision_model.{b_name}.{s}"] = sd[f"{p}{a_name}.{s}"]
    for i in range(TINY["layers"]):
        q = f"{p}transformer.resblocks.{i}."
        h = f"vision_model.encoder.layers.{i}."
        for s in ("weight", "bias"):
            for j, n in enumerate(("q_proj", "k_proj", "v_proj")):
                hf[f"{h}self_attn.{n}.{s}"] = sd[f"{q}attn.in_proj_{s}"][j * width:(j + 1) * width]
            for x, y in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                         ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                hf[f"{h}{y}.{s}"] = sd[f"{q}{x}.{s}"]
    save_file(hf, str(tmp_path / "hf.safetensors"))
    b = load_clip_vision(tmp_path / "hf.safetensors")
    image = torch.rand(1, 32, 32, 3)
    assert torch.allclose(a.encode_image(image).image_embeds, b.encode_image(image).image_embeds, atol=1e-5)


def test_preprocess_crops_rounds_and_normalises() -> None:
    image = torch.zeros(1, 10, 30, 3)
    image[:, :, 10:20] = 0.5  # the centre square is grey
    x = preprocess(image, 10)
    grey = (round(127.5) / 255.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert x.shape == (1, 3, 10, 10) and torch.allclose(x[0, :, 5, 5], grey, atol=1e-6)
    assert preprocess(image, 10, crop=False).shape == (1, 3, 10, 10)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownArchitecture, match="no CLIP vision"):
        load_clip_vision(write_random({"foo.weight": (2, 2)}, tmp_path / "x.safetensors"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    with pytest.raises(CorruptModelFile, match="bad.safetensors"):
        load_clip_vision(bad)
