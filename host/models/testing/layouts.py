"""The real checkpoint key layouts, enumerated from the published architectures (not from this package's
modules, so the key-layout tests compare two independent accounts): names and shapes of the original
LDM/CompVis SD1.5 and SD2.1 checkpoints and Stability's SDXL base and refiner (sgm layout).
"""

from __future__ import annotations

from dataclasses import dataclass

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class UNetLayout:
    model_channels: int = 320
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    #: levels with a SpatialTransformer after each ResBlock
    attn_levels: tuple[int, ...] = (0, 1, 2)
    depth: int = 1
    context_dim: int = 768
    linear_proj: bool = False
    in_channels: int = 4
    out_channels: int = 4
    #: transformer depth per level (0: none), overriding attn_levels/depth when given (SDXL)
    level_depths: tuple[int, ...] = ()
    #: the middle block's transformer depth (None: ``depth``)
    middle_depth: int | None = None
    #: SDXL's ADM input width (``label_emb``), None when absent
    adm_in_channels: int | None = None

    def level_depth(self, level: int) -> int:
        if self.level_depths:
            return self.level_depths[level]
        return self.depth if level in self.attn_levels else 0


SD15_UNET = UNetLayout()
SD21_UNET = UNetLayout(context_dim=1024, linear_proj=True)
#: sgm's sd_xl_base.yaml: channel_mult [1, 2, 4], transformer_depth [0, 2, 10], context 2048, adm 2816
SDXL_UNET = UNetLayout(channel_mult=(1, 2, 4), context_dim=2048, linear_proj=True, level_depths=(0, 2, 10),
                       middle_depth=10, adm_in_channels=2816)
#: sgm's sd_xl_refiner.yaml: model_channels 384, channel_mult [1, 2, 4, 4], transformer_depth 4 at levels 1-2,
#: context 1280, adm 2560
SDXL_REFINER_UNET = UNetLayout(model_channels=384, context_dim=1280, linear_proj=True, level_depths=(0, 4, 4, 0),
                               middle_depth=4, adm_in_channels=2560)


def _res(S: Shapes, p: str, cin: int, cout: int, ted: int) -> None:
    S |= {p + "in_layers.0.weight": (cin,), p + "in_layers.0.bias": (cin,),
          p + "in_layers.2.weight": (cout, cin, 3, 3), p + "in_layers.2.bias": (cout,),
          p + "emb_layers.1.weight": (cout, ted), p + "emb_layers.1.bias": (cout,),
          p + "out_layers.0.weight": (cout,), p + "out_layers.0.bias": (cout,),
          p + "out_layers.3.weight": (cout, cout, 3, 3), p + "out_layers.3.bias": (cout,)}
    if cin != cout:
        S |= {p + "skip_connection.weight": (cout, cin, 1, 1), p + "skip_connection.bias": (cout,)}


def _st(S: Shapes, p: str, c: int, lay: UNetLayout, depth: int | None = None) -> None:
    proj = (c, c) if lay.linear_proj else (c, c, 1, 1)
    S |= {p + "norm.weight": (c,), p + "norm.bias": (c,), p + "proj_in.weight": proj, p + "proj_in.bias": (c,)}
    for d in range(lay.depth if depth is None else depth):
        b = f"{p}transformer_blocks.{d}."
        for a, kv in (("attn1", c), ("attn2", lay.context_dim)):
            S |= {f"{b}{a}.to_q.weight": (c, c), f"{b}{a}.to_k.weight": (c, kv), f"{b}{a}.to_v.weight": (c, kv),
                  f"{b}{a}.to_out.0.weight": (c, c), f"{b}{a}.to_out.0.bias": (c,)}
        S |= {b + "ff.net.0.proj.weight": (c * 8, c), b + "ff.net.0.proj.bias": (c * 8,),
              b + "ff.net.2.weight": (c, c * 4), b + "ff.net.2.bias": (c,)}
        for n in ("norm1", "norm2", "norm3"):
            S |= {f"{b}{n}.weight": (c,), f"{b}{n}.bias": (c,)}
    S |= {p + "proj_out.weight": proj, p + "proj_out.bias": (c,)}


def unet_layout(lay: UNetLayout = SD15_UNET) -> Shapes:
    mc, ted = lay.model_channels, lay.model_channels * 4
    S: Shapes = {"time_embed.0.weight": (ted, mc), "time_embed.0.bias": (ted,), "time_embed.2.weight": (ted, ted),
                 "time_embed.2.bias": (ted,), "input_blocks.0.0.weight": (mc, lay.in_channels, 3, 3),
                 "input_blocks.0.0.bias": (mc,)}
    if lay.adm_in_channels is not None:
        S |= {"label_emb.0.0.weight": (ted, lay.adm_in_channels), "label_emb.0.0.bias": (ted,),
              "label_emb.0.2.weight": (ted, ted), "label_emb.0.2.bias": (ted,)}
    chans, ch, idx = [mc], mc, 1
    for level, mult in enumerate(lay.channel_mult):
        for _ in range(lay.num_res_blocks):
            _res(S, f"input_blocks.{idx}.0.", ch, mult * mc, ted)
            ch = mult * mc
            if lay.level_depth(level):
                _st(S, f"input_blocks.{idx}.1.", ch, lay, lay.level_depth(level))
            chans.append(ch)
            idx += 1
        if level != len(lay.channel_mult) - 1:
            S |= {f"input_blocks.{idx}.0.op.weight": (ch, ch, 3, 3), f"input_blocks.{idx}.0.op.bias": (ch,)}
            chans.append(ch)
            idx += 1
    _res(S, "middle_block.0.", ch, ch, ted)
    _st(S, "middle_block.1.", ch, lay, lay.middle_depth)
    _res(S, "middle_block.2.", ch, ch, ted)
    idx = 0
    for level, mult in reversed(list(enumerate(lay.channel_mult))):
        for i in range(lay.num_res_blocks + 1):
            _res(S, f"output_blocks.{idx}.0.", ch + chans.pop(), mc * mult, ted)
            ch, j = mc * mult, 1
            if lay.level_depth(level):
                _st(S, f"output_blocks.{idx}.1.", ch, lay, lay.level_depth(level))
                j = 2
            if level and i == lay.num_res_blocks:
                up = f"output_blocks.{idx}.{j}.conv."
                S |= {up + "weight": (ch, ch, 3, 3), up + "bias": (ch,)}
            idx += 1
    S |= {"out.0.weight": (ch,), "out.0.bias": (ch,), "out.2.weight": (lay.out_channels, mc, 3, 3),
          "out.2.bias": (lay.out_channels,)}
    return S


def vae_layout(ch: int = 128, ch_mult: tuple[int, ...] = (1, 2, 4, 4), num_res_blocks: int = 2, z: int = 4) -> Shapes:
    S: Shapes = {}

    def resnet(p: str, cin: int, cout: int) -> None:
        S.update({p + "norm1.weight": (cin,), p + "norm1.bias": (cin,), p + "conv1.weight": (cout, cin, 3, 3),
                  p + "conv1.bias": (cout,), p + "norm2.weight": (cout,), p + "norm2.bias": (cout,),
                  p + "conv2.weight": (cout, cout, 3, 3), p + "conv2.bias": (cout,)})
        if cin != cout:
            S.update({p + "nin_shortcut.weight": (cout, cin, 1, 1), p + "nin_shortcut.bias": (cout,)})

    def mid(p: str, c: int) -> None:
        resnet(p + "mid.block_1.", c, c)
        S.update({p + "mid.attn_1.norm.weight": (c,), p + "mid.attn_1.norm.bias": (c,)})
        for n in ("q", "k", "v", "proj_out"):
            S.update({f"{p}mid.attn_1.{n}.weight": (c, c, 1, 1), f"{p}mid.attn_1.{n}.bias": (c,)})
        resnet(p + "mid.block_2.", c, c)

    S.update({"encoder.conv_in.weight": (ch, 3, 3, 3), "encoder.conv_in.bias": (ch,)})
    block_in = ch
    mults = (1, *ch_mult)
    for i in range(len(ch_mult)):
        block_in, block_out = ch * mults[i], ch * ch_mult[i]
        for j in range(num_res_blocks):
            resnet(f"encoder.down.{i}.block.{j}.", block_in, block_out)
            block_in = block_out
        if i != len(ch_mult) - 1:
            S.update({f"encoder.down.{i}.downsample.conv.weight": (block_in, block_in, 3, 3),
                      f"encoder.down.{i}.downsample.conv.bias": (block_in,)})
    mid("encoder.", block_in)
    S.update({"encoder.norm_out.weight": (block_in,), "encoder.norm_out.bias": (block_in,),
              "encoder.conv_out.weight": (2 * z, block_in, 3, 3), "encoder.conv_out.bias": (2 * z,)})
    block_in = ch * ch_mult[-1]
    S.update({"decoder.conv_in.weight": (block_in, z, 3, 3), "decoder.conv_in.bias": (block_in,)})
    mid("decoder.", block_in)
    for i in reversed(range(len(ch_mult))):
        block_out = ch * ch_mult[i]
        for j in range(num_res_blocks + 1):
            resnet(f"decoder.up.{i}.block.{j}.", block_in, block_out)
            block_in = block_out
        if i != 0:
            S.update({f"decoder.up.{i}.upsample.conv.weight": (block_in, block_in, 3, 3),
                      f"decoder.up.{i}.upsample.conv.bias": (block_in,)})
    S.update({"decoder.norm_out.weight": (block_in,), "decoder.norm_out.bias": (block_in,),
              "decoder.conv_out.weight": (3, block_in, 3, 3), "decoder.conv_out.bias": (3,),
              "quant_conv.weight": (2 * z, 2 * z, 1, 1), "quant_conv.bias": (2 * z,),
              "post_quant_conv.weight": (z, z, 1, 1), "post_quant_conv.bias": (z,)})
    return S


def clip_l_layout(width: int = 768, layers: int = 12, mlp: int = 3072, vocab: int = 49408, ctx: int = 77) -> Shapes:
    """transformers' CLIPTextModel names under ``text_model.`` (SD1's ``cond_stage_model.transformer.``)."""
    S: Shapes = {"embeddings.token_embedding.weight": (vocab, width),
                 "embeddings.position_embedding.weight": (ctx, width),
                 "embeddings.position_ids": (1, ctx)}
    for i in range(layers):
        p = f"encoder.layers.{i}."
        for n in ("k_proj", "v_proj", "q_proj", "out_proj"):
            S |= {f"{p}self_attn.{n}.weight": (width, width), f"{p}self_attn.{n}.bias": (width,)}
        S |= {p + "layer_norm1.weight": (width,), p + "layer_norm1.bias": (width,),
              p + "mlp.fc1.weight": (mlp, width), p + "mlp.fc1.bias": (mlp,), p + "mlp.fc2.weight": (width, mlp),
              p + "mlp.fc2.bias": (width,), p + "layer_norm2.weight": (width,), p + "layer_norm2.bias": (width,)}
    S |= {"final_layer_norm.weight": (width,), "final_layer_norm.bias": (width,)}
    return S


def open_clip_layout(width: int = 1024, layers: int = 24, mlp: int = 4096, vocab: int = 49408, ctx: int = 77,
                     proj: int = 1024) -> Shapes:
    """OpenCLIP's text tower as SD2 checkpoints hold it under ``cond_stage_model.model.``."""
    S: Shapes = {"token_embedding.weight": (vocab, width), "positional_embedding": (ctx, width),
                 "text_projection": (width, proj), "logit_scale": (), "ln_final.weight": (width,),
                 "ln_final.bias": (width,)}
    for i in range(layers):
        p = f"transformer.resblocks.{i}."
        S |= {p + "ln_1.weight": (width,), p + "ln_1.bias": (width,), p + "attn.in_proj_weight": (3 * width, width),
              p + "attn.in_proj_bias": (3 * width,), p + "attn.out_proj.weight": (width, width),
              p + "attn.out_proj.bias": (width,), p + "ln_2.weight": (width,), p + "ln_2.bias": (width,),
              p + "mlp.c_fc.weight": (mlp, width), p + "mlp.c_fc.bias": (mlp,), p + "mlp.c_proj.weight": (width, mlp),
              p + "mlp.c_proj.bias": (width,)}
    return S


__all__ = ["SD15_UNET", "SD21_UNET", "SDXL_REFINER_UNET", "SDXL_UNET", "Shapes", "UNetLayout", "clip_l_layout",
           "open_clip_layout", "unet_layout", "vae_layout"]
