"""LoRA key styles -> the host model's weight names: kohya (diffusers and LDM names), LyCORIS, diffusers/PEFT,
the generic form; SD1.5 and an SDXL-shaped UNet; CLIP-L, SDXL's L+G and the refiner's lone G. The expected names
are written out here (the real files' names), and every key the LoRA writer produces must land with a fitting
shape on the full SD1.5 layout."""

from __future__ import annotations

import pytest

from host.models.lora_keys import clip_key_map, diffusers_unet_names, key_part, unet_key_map
from host.models.lora_read import read_patches
from host.models.testing.layouts import SD15_UNET, UNetLayout, clip_l_layout, unet_layout
from host.models.testing.make_lora import ClipLayout, lora_state_dict

SD15 = {"diffusion_model." + k: v for k, v in unet_layout(SD15_UNET).items()}
SDXL_LIKE = UNetLayout(channel_mult=(1, 2, 4), attn_levels=(1, 2), depth=2, context_dim=2048, linear_proj=True)
CLIP_L = {"clip_l.transformer.text_model." + k: v for k, v in clip_l_layout().items()}
DM = "diffusion_model."


@pytest.mark.parametrize(("lora", "weight"), [
    ("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
     "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"),
    ("lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn2_to_out_0",
     "input_blocks.2.1.transformer_blocks.0.attn2.to_out.0.weight"),
    ("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj",
     "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight"),
    ("lora_unet_up_blocks_3_attentions_2_proj_out", "output_blocks.11.1.proj_out.weight"),
    ("lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_ff_net_2",
     "output_blocks.3.1.transformer_blocks.0.ff.net.2.weight"),
    # LoCon: ResBlocks, down/upsamplers
    ("lora_unet_down_blocks_1_resnets_0_conv1", "input_blocks.4.0.in_layers.2.weight"),
    ("lora_unet_down_blocks_1_resnets_0_conv_shortcut", "input_blocks.4.0.skip_connection.weight"),
    ("lora_unet_down_blocks_3_resnets_1_conv2", "input_blocks.11.0.out_layers.3.weight"),
    ("lora_unet_down_blocks_0_downsamplers_0_conv", "input_blocks.3.0.op.weight"),
    ("lora_unet_up_blocks_0_upsamplers_0_conv", "output_blocks.2.1.conv.weight"),
    ("lora_unet_up_blocks_2_upsamplers_0_conv", "output_blocks.8.2.conv.weight"),
    ("lora_unet_up_blocks_1_resnets_2_time_emb_proj", "output_blocks.5.0.emb_layers.1.weight"),
    ("lora_unet_mid_block_resnets_1_norm2", "middle_block.2.out_layers.0.weight"),
    ("lora_unet_conv_in", "input_blocks.0.0.weight"),
    ("lora_unet_time_embedding_linear_1", "time_embed.0.weight"),
    # LDM names (kohya's SDXL files), LyCORIS/SimpleTuner, diffusers/PEFT, processor form, generic
    ("lora_unet_input_blocks_1_1_proj_in", "input_blocks.1.1.proj_in.weight"),
    ("lora_unet_output_blocks_5_2_conv", "output_blocks.5.2.conv.weight"),
    ("lycoris_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k",
     "input_blocks.1.1.transformer_blocks.0.attn1.to_k.weight"),
    ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0",
     "input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight"),
    ("down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_v",
     "input_blocks.8.1.transformer_blocks.0.attn2.to_v.weight"),
    ("unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.processor.to_out",
     "output_blocks.5.1.transformer_blocks.0.attn1.to_out.0.weight"),
    ("unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_k",
     "middle_block.1.transformer_blocks.0.attn2.to_k.weight"),
    ("diffusion_model.input_blocks.7.1.proj_in", "input_blocks.7.1.proj_in.weight"),
    ("diffusion_model.out.2.bias", "out.2.bias"),
])
def test_sd15_unet_names(lora: str, weight: str) -> None:
    assert unet_key_map(SD15)[lora] == DM + weight


def test_every_sd15_unet_weight_has_a_diffusers_name_and_back() -> None:
    names = diffusers_unet_names(unet_layout(SD15_UNET))
    assert sorted(names.values()) == sorted(unet_layout(SD15_UNET))
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(("diffusers", "ldm"), [
    ("down_blocks.0.resnets.1.conv1.weight", "input_blocks.2.0.in_layers.2.weight"),  # no attention at level 0
    ("down_blocks.1.attentions.1.transformer_blocks.1.attn2.to_k.weight",
     "input_blocks.5.1.transformer_blocks.1.attn2.to_k.weight"),
    ("down_blocks.1.downsamplers.0.conv.weight", "input_blocks.6.0.op.weight"),
    ("mid_block.attentions.0.transformer_blocks.1.ff.net.2.weight",
     "middle_block.1.transformer_blocks.1.ff.net.2.weight"),
    ("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.2.conv.weight"),
    ("up_blocks.1.attentions.2.proj_in.weight", "output_blocks.5.1.proj_in.weight"),
    ("up_blocks.2.resnets.2.conv1.weight", "output_blocks.8.0.in_layers.2.weight"),
])
def test_sdxl_shaped_unet_names(diffusers: str, ldm: str) -> None:
    names = diffusers_unet_names(unet_layout(SDXL_LIKE))
    assert names[diffusers] == ldm
    assert not any(k.startswith("up_blocks.2.attentions") for k in names)
    assert not any(k.startswith("up_blocks.2.upsamplers") for k in names)


def test_sd1_clip_names() -> None:
    km = clip_key_map(CLIP_L)
    target = "clip_l.transformer.text_model.encoder.layers.11.mlp.fc2.weight"
    for name in ("lora_te_text_model_encoder_layers_11_mlp_fc2", "lora_te1_text_model_encoder_layers_11_mlp_fc2",
                 "text_encoder.text_model.encoder.layers.11.mlp.fc2",
                 "text_encoders.clip_l.transformer.text_model.encoder.layers.11.mlp.fc2"):
        assert km[name] == target
    assert km["lora_te_text_model_encoder_layers_0_self_attn_out_proj"] == (
        "clip_l.transformer.text_model.encoder.layers.0.self_attn.out_proj.weight")
    assert "lora_te2_text_model_encoder_layers_0_mlp_fc1" not in km


def _g(layers: int = 32) -> dict[str, tuple[int, ...]]:
    keys = {f"clip_g.transformer.text_model.encoder.layers.{b}.{c}.weight": (1280, 1280) for b in range(layers)
            for c in ("self_attn.q_proj", "mlp.fc1")}
    return keys | {"clip_g.transformer.text_projection.weight": (1280, 1280)}


def test_sdxl_clip_names_te1_te2() -> None:
    km = clip_key_map(CLIP_L | _g())
    assert km["lora_te1_text_model_encoder_layers_3_mlp_fc1"].startswith("clip_l.")
    assert km["lora_te_text_model_encoder_layers_3_mlp_fc1"].startswith("clip_l.")
    assert km["lora_te2_text_model_encoder_layers_31_self_attn_q_proj"] == (
        "clip_g.transformer.text_model.encoder.layers.31.self_attn.q_proj.weight")
    assert km["text_encoder_2.text_model.encoder.layers.30.mlp.fc1"].startswith("clip_g.")
    assert km["lora_te2_text_projection"] == "clip_g.transformer.text_projection.weight"


def test_refiner_lone_g_takes_lora_te() -> None:
    km = clip_key_map(_g())
    assert km["lora_te_text_model_encoder_layers_5_mlp_fc1"].startswith("clip_g.")
    assert "lora_te2_text_model_encoder_layers_5_mlp_fc1" not in km


@pytest.mark.parametrize("style", ["kohya", "loha", "lokr", "peft", "diffusers"])
def test_every_written_key_lands_with_a_fitting_shape_on_full_sd15(style: str) -> None:
    sd = lora_state_dict(SD15_UNET, ClipLayout(), rank=2, style=style, conv=style == "kohya")
    shapes = SD15 | CLIP_L
    patches, used = read_patches(sd, unet_key_map(shapes) | clip_key_map(shapes))
    assert set(sd) == used
    assert all(a.fits(shapes[k]) for k, a in patches.items())
    assert sum(k.startswith("clip_l.") for k in patches) == 72  # 12 layers x 6 Linear layers


def test_key_part() -> None:
    assert key_part("lora_unet_down_blocks_0_attentions_0_proj_in.alpha") == "unet"
    assert key_part("unet.down_blocks.0.x.lora_A.weight") == "unet"
    assert key_part("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight") == "clip"
    assert key_part("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight") == "clip"
    assert key_part("something.else") is None
