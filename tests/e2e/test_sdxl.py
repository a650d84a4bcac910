"""SDXL end to end on small random base and refiner checkpoints, through the executor: txt2img with plain
CLIPTextEncode and with CLIPTextEncodeSDXL, ComfyUI's base + refiner workflow (KSamplerAdvanced hand-off),
DualCLIPLoader, determinism, previews, and clear node errors for the refiner's CLIP or conditioning given to the
base."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e.helpers import Host, make_checkpoint, txt2img

from builtin_nodes import NodeFolders, OutputPaths, load_builtin
from host.executor.caches import make_cache
from host.executor.events import ListSink, ProgressPreview
from host.executor.executor import Executor
from host.folders import ModelFolders
from host.models.devices import DeviceConfig
from host.models.manager import ModelManager
from host.registry import Registry

pytestmark = pytest.mark.timeout(600)

BASE, REFINER = "small_sdxl.safetensors", "small_sdxl_refiner.safetensors"


@pytest.fixture(scope="module")
def xl(tmp_path_factory: pytest.TempPathFactory) -> Host:
    """A host over a base folder with the two SDXL checkpoints and the base's two text encoders as files."""
    from safetensors.torch import save_file

    from host.models.checkpoint import open_state_dict

    base = tmp_path_factory.mktemp("xl")
    ckpts = base / "models" / "checkpoints"
    make_checkpoint(ckpts / BASE, "sdxl")
    make_checkpoint(ckpts / REFINER, "sdxl_refiner")
    (base / "input").mkdir()
    te = base / "models" / "text_encoders"
    te.mkdir(parents=True)
    sd = open_state_dict(ckpts / BASE)
    for name, prefix in (("clip_l.safetensors", "conditioner.embedders.0.transformer."),
                         ("clip_g.safetensors", "conditioner.embedders.1.model.")):
        save_file({k[len(prefix):]: sd[k] for k in sd if k.startswith(prefix)}, str(te / name))
    write_sdxl_lora(base / "models" / "loras" / "xl_lora.safetensors")
    out = tmp_path_factory.mktemp("xl_out")
    paths = OutputPaths(out / "output", out / "temp")
    models = ModelFolders(base / "models")
    registry = Registry()
    load_builtin(registry, paths, NodeFolders(base / "input", paths.output_dir, paths.temp_dir, models))
    registry.freeze()
    manager = ModelManager(DeviceConfig(cpu=True), models, preview_method="latent2rgb")
    sink = ListSink()
    return Host(registry, Executor(registry, sink, make_cache(none=True), models=manager), sink, manager, base,
                paths.output_dir)


def write_sdxl_lora(out: Path, rank: int = 4) -> None:
    """A kohya LoRA for the small SDXL base: one UNet cross-attention weight, one layer of each text encoder
    (``lora_te1_`` CLIP-L, ``lora_te2_`` CLIP-G)."""
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    targets = {"lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k": (320, 2048),
               "lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768),
               "lora_te2_text_model_encoder_layers_0_self_attn_q_proj": (1280, 1280)}
    sd = {}
    for stem, (cout, cin) in targets.items():
        sd[stem + ".lora_down.weight"] = torch.randn(rank, cin, generator=g) / cin ** 0.5
        sd[stem + ".lora_up.weight"] = torch.randn(cout, rank, generator=g)
        sd[stem + ".alpha"] = torch.tensor(float(rank))
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out))


def base_refiner(seed: int = 7, prefix: str = "xl") -> dict[str, Any]:
    """ComfyUI's SDXL base + refiner workflow: the base denoises steps 0-2 of 4 and hands its noisy latent to
    the refiner for steps 2-4."""
    size = {"width": 64, "height": 64}
    adv = {"steps": 4, "cfg": 6.0, "sampler_name": "euler", "scheduler": "normal"}
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": BASE}},
        "2": {"class_type": "CLIPTextEncodeSDXL", "inputs": {
            "clip": ["1", 1], **size, "crop_w": 0, "crop_h": 0, "target_width": 64, "target_height": 64,
            "text_g": "a lighthouse on a cliff", "text_l": "a lighthouse"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {**size, "batch_size": 1}},
        "5": {"class_type": "KSamplerAdvanced", "inputs": {
            "model": ["1", 0], "add_noise": "enable", "noise_seed": seed, **adv, "positive": ["2", 0],
            "negative": ["3", 0], "latent_image": ["4", 0], "start_at_step": 0, "end_at_step": 2,
            "return_with_leftover_noise": "enable"}},
        "10": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": REFINER}},
        "11": {"class_type": "CLIPTextEncodeSDXLRefiner", "inputs": {
            "ascore": 6.0, **size, "text": "a lighthouse on a cliff", "clip": ["10", 1]}},
        "12": {"class_type": "CLIPTextEncodeSDXLRefiner", "inputs": {
            "ascore": 2.5, **size, "text": "blurry", "clip": ["10", 1]}},
        "13": {"class_type": "KSamplerAdvanced", "inputs": {
            "model": ["10", 0], "add_noise": "disable", "noise_seed": seed, **adv, "positive": ["11", 0],
            "negative": ["12", 0], "latent_image": ["5", 0], "start_at_step": 2, "end_at_step": 10000,
            "return_with_leftover_noise": "disable"}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["6", 0]}},
    }


def test_plain_txt2img_with_sdxl_previews(xl: Host) -> None:
    xl.sink.events.clear()
    result = xl.run(txt2img(steps=2, ckpt=BASE, prefix="plain"), "plain")
    pixels = xl.pixels(result)
    assert pixels.shape == (64, 64, 3) and pixels.std() > 0
    previews = [e for e in xl.sink.of(ProgressPreview) if e.node_id == "5"]
    assert len(previews) == 2 and previews[0].image[1].size == (8, 8)
    model = xl.manager.load_checkpoint(xl.base / "models" / "checkpoints" / BASE).model
    assert model.latent_scale == 0.13025


def test_base_then_refiner_is_deterministic(xl: Host) -> None:
    a = xl.pixels(xl.run(base_refiner(seed=7, prefix="a"), "a"))
    b = xl.pixels(xl.run(base_refiner(seed=7, prefix="b"), "b"))
    c = xl.pixels(xl.run(base_refiner(seed=8, prefix="c"), "c"))
    assert a.shape == (64, 64, 3) and np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1
    base_only = base_refiner(seed=7, prefix="base")
    base_only["5"]["inputs"].update(end_at_step=10000, return_with_leftover_noise="disable")
    base_only["6"]["inputs"]["samples"] = ["5", 0]
    for node in ("10", "11", "12", "13"):
        del base_only[node]
    assert np.abs(xl.pixels(xl.run(base_only, "base")) - a).mean() > 1  # the refiner's steps changed the image


def test_size_conditioning_changes_the_image(xl: Host) -> None:
    small = base_refiner(prefix="s1")
    big = base_refiner(prefix="s2")
    big["2"]["inputs"].update(width=2048, height=512, target_width=2048, target_height=512)
    assert np.abs(xl.pixels(xl.run(small, "s1")) - xl.pixels(xl.run(big, "s2"))).mean() > 0


def test_dual_clip_loader_gives_the_checkpoints_pixels(xl: Host) -> None:
    want = xl.pixels(xl.run(txt2img(steps=2, ckpt=BASE, prefix="ck"), "ck"))
    prompt = txt2img(steps=2, ckpt=BASE, prefix="dual")
    prompt["20"] = {"class_type": "DualCLIPLoader", "inputs": {
        "clip_name1": "clip_g.safetensors", "clip_name2": "clip_l.safetensors", "type": "sdxl"}}
    prompt["2"]["inputs"]["clip"] = prompt["3"]["inputs"]["clip"] = ["20", 0]
    assert np.array_equal(xl.pixels(xl.run(prompt, "dual")), want)
    prompt["20"]["inputs"]["type"] = "flux"
    result = xl.run(prompt, "flux")
    assert result.status == "error" and result.error["node_id"] == "20"
    assert "'flux'" in result.error["exception_message"]


def test_refiner_clip_into_the_base_only_node_is_a_clear_error(xl: Host) -> None:
    prompt = base_refiner(prefix="bad")
    prompt["2"]["inputs"]["clip"] = ["10", 1]
    result = xl.run(prompt, "bad-clip")
    assert result.status == "error" and result.error["node_id"] == "2"
    message = result.error["exception_message"]
    assert "SDXL base's two text encoders" in message and "CLIPTextEncodeSDXLRefiner" in message
    assert xl.run(base_refiner(prefix="after"), "after").status == "success"


def test_refiner_conditioning_into_the_base_model_is_a_clear_error(xl: Host) -> None:
    prompt = base_refiner(prefix="bad2")
    prompt["5"]["inputs"]["positive"] = ["11", 0]
    result = xl.run(prompt, "bad-cond")
    assert result.status == "error" and result.error["node_id"] == "5"
    assert "2048-wide" in result.error["exception_message"] and "1280-wide" in result.error["exception_message"]


def test_previews_use_sdxl_latent2rgb_factors(xl: Host) -> None:
    import torch

    from builtin_nodes.previews import previewer

    ckpts = xl.base / "models" / "checkpoints"
    z = torch.zeros(1, 4, 2, 2)
    z[0, 0] = 1.0  # channel 0 only: rgb = row 0 of the SDXL factors + the bias
    for name in (BASE, REFINER):
        _, image, _ = previewer("latent2rgb", xl.manager.load_checkpoint(ckpts / name).model)(z)
        rgb = (0.3651 + 0.1084, 0.4232 - 0.0175, 0.4341 - 0.0011)
        assert image.getpixel((0, 0)) == tuple(int((v + 1) / 2 * 255) for v in rgb)


def test_sampler_custom_advanced_equals_ksampler_on_sdxl(xl: Host) -> None:
    want = xl.pixels(xl.run(txt2img(steps=2, ckpt=BASE, prefix="ks"), "ks"))
    prompt = txt2img(steps=2, ckpt=BASE, prefix="custom")
    prompt["5"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["20", 0], "guider": ["21", 0], "sampler": ["22", 0], "sigmas": ["23", 0], "latent_image": ["4", 0]}}
    prompt["20"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": 1}}
    prompt["21"] = {"class_type": "CFGGuider", "inputs": {"model": ["1", 0], "positive": ["2", 0],
                                                          "negative": ["3", 0], "cfg": 7.0}}
    prompt["22"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
    prompt["23"] = {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "normal", "steps": 2,
                                                               "denoise": 1.0}}
    assert np.array_equal(xl.pixels(xl.run(prompt, "custom")), want)


def with_lora(strength_model: float, strength_clip: float, prefix: str) -> dict[str, Any]:
    prompt = txt2img(steps=2, ckpt=BASE, prefix=prefix)
    prompt["20"] = {"class_type": "LoraLoader", "inputs": {
        "model": ["1", 0], "clip": ["1", 1], "lora_name": "xl_lora.safetensors", "strength_model": strength_model,
        "strength_clip": strength_clip}}
    prompt["2"]["inputs"]["clip"] = prompt["3"]["inputs"]["clip"] = ["20", 1]
    prompt["5"]["inputs"]["model"] = ["20", 0]
    return prompt


def test_sdxl_lora_patches_unet_and_both_text_encoders(xl: Host) -> None:
    plain = xl.pixels(xl.run(txt2img(steps=2, ckpt=BASE, prefix="nolora"), "nolora"))
    assert np.abs(xl.pixels(xl.run(with_lora(1.0, 0.0, "lm"), "lm")) - plain).mean() > 0
    assert np.abs(xl.pixels(xl.run(with_lora(0.0, 1.0, "lc"), "lc")) - plain).mean() > 0
    assert np.array_equal(xl.pixels(xl.run(with_lora(0.0, 0.0, "l0"), "l0")), plain)
    assert np.array_equal(xl.pixels(xl.run(txt2img(steps=2, ckpt=BASE, prefix="again"), "again")), plain)


def test_sdxl_controlnet_changes_the_image_and_strength_zero_does_not(xl: Host) -> None:
    """A small random SDXL ControlNet (the small base UNet's encoder with its ADM ``label_emb``) through
    ControlNetApplyAdvanced on the SDXL base: the control changes the image, strength 0 gives the plain pixels."""
    from PIL import Image

    from host.models.testing.control_layouts import controlnet_layout, write_random
    from host.models.testing.layouts import SDXL_UNET
    from host.models.testing.make_checkpoint import small_unet

    name = "small_control_sdxl.safetensors"
    path = xl.base / "models" / "controlnet" / name
    if not path.exists():
        write_random(controlnet_layout(small_unet(SDXL_UNET)), path, seed=5)
    Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))).save(
        xl.base / "input" / "xl_hint.png")

    def prompt(strength: float, prefix: str) -> dict[str, Any]:
        p = txt2img(steps=2, ckpt=BASE, prefix=prefix)
        p["10"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": name}}
        p["11"] = {"class_type": "LoadImage", "inputs": {"image": "xl_hint.png"}}
        p["12"] = {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["2", 0], "negative": ["3", 0], "control_net": ["10", 0], "image": ["11", 0],
            "strength": strength, "start_percent": 0.0, "end_percent": 1.0, "vae": ["1", 2]}}
        p["5"]["inputs"]["positive"], p["5"]["inputs"]["negative"] = ["12", 0], ["12", 1]
        return p

    plain = xl.pixels(xl.run(txt2img(steps=2, ckpt=BASE, prefix="cn_plain"), "cn_plain"))
    controlled = xl.pixels(xl.run(prompt(1.0, "cn_on"), "cn_on"))
    assert np.abs(controlled - plain).mean() > 1
    assert np.array_equal(xl.pixels(xl.run(prompt(0.0, "cn_off"), "cn_off")), plain)
