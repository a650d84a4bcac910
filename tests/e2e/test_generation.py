"""Generation end to end on a small random SD1.5 checkpoint: txt2img, determinism, img2img, inpaint, hires fix,
clip skip, a long prompt, an embedding; progress and previews per step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from e2e.helpers import CHECKPOINT, Host, txt2img
from PIL import Image

from builtin_nodes import NodeFolders
from host.executor.events import Progress, ProgressPreview
from isolate.context import CURRENT_NODE, NodeContext

pytestmark = pytest.mark.timeout(300)


def test_txt2img_saves_an_image_with_its_prompt(host: Host) -> None:
    prompt = txt2img(steps=3)
    result = host.run(prompt)
    pixels = host.pixels(result)
    assert pixels.shape == (64, 64, 3) and pixels.std() > 0
    steps = [e for e in host.sink.of(Progress) if e.node == "5"]
    assert [(e.value, e.max) for e in steps] == [(1, 3), (2, 3), (3, 3)]
    previews = [e for e in host.sink.of(ProgressPreview) if e.node_id == "5"]
    assert len(previews) == 3 and previews[0].image[1].size == (8, 8)
    [image] = result.outputs["7"]["images"]
    with Image.open(host.output / image["filename"]) as png:
        assert json.loads(png.text["prompt"]) == prompt


def test_same_seed_same_pixels_other_seed_other_pixels(host: Host) -> None:
    a = host.pixels(host.run(txt2img(seed=5, prefix="a")))
    b = host.pixels(host.run(txt2img(seed=5, prefix="b")))
    c = host.pixels(host.run(txt2img(seed=6, prefix="c")))
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1


def write_image(host: Host, name: str, alpha: bool = False) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    if alpha:
        a = np.full((64, 64, 1), 255, dtype=np.uint8)
        a[16:48, 16:48] = 0  # transparent centre: the mask LoadImage gives is 1 there
        Image.fromarray(np.concatenate([rgb, a], axis=-1), "RGBA").save(host.base / "input" / name)
    else:
        Image.fromarray(rgb).save(host.base / "input" / name)


def img2img(host: Host, denoise: float) -> dict[str, Any]:
    write_image(host, "source.png")
    prompt = txt2img()
    prompt["9"] = {"class_type": "LoadImage", "inputs": {"image": "source.png"}}
    prompt["10"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["9", 0], "vae": ["1", 2]}}
    prompt["5"]["inputs"].update(latent_image=["10", 0], denoise=denoise)
    del prompt["4"]
    return prompt


def test_img2img_denoise_06_runs_fewer_steps(host: Host) -> None:
    prompt = img2img(host, 0.6)
    prompt["5"]["inputs"]["steps"] = 5
    pixels = host.pixels(host.run(prompt))
    assert pixels.shape == (64, 64, 3)
    assert [e.max for e in host.sink.of(Progress) if e.node == "5"][-1] == 5


def test_inpaint_keeps_the_unmasked_latent(host: Host) -> None:
    write_image(host, "hole.png", alpha=True)
    prompt = txt2img()
    prompt["9"] = {"class_type": "LoadImage", "inputs": {"image": "hole.png"}}
    prompt["10"] = {"class_type": "VAEEncodeForInpaint",
                    "inputs": {"pixels": ["9", 0], "vae": ["1", 2], "mask": ["9", 1], "grow_mask_by": 6}}
    prompt["5"]["inputs"]["latent_image"] = ["10", 0]
    del prompt["4"]
    assert host.pixels(host.run(prompt)).shape == (64, 64, 3)


def test_hires_fix_upscales_then_samples_again(host: Host) -> None:
    prompt = txt2img(steps=2)
    prompt["11"] = {"class_type": "LatentUpscaleBy",
                    "inputs": {"samples": ["5", 0], "upscale_method": "nearest-exact", "scale_by": 1.5}}
    prompt["12"] = {"class_type": "KSampler", "inputs": dict(prompt["5"]["inputs"], latent_image=["11", 0],
                                                             denoise=0.5)}
    prompt["6"]["inputs"]["samples"] = ["12", 0]
    assert host.pixels(host.run(prompt)).shape == (96, 96, 3)


def test_clip_skip_changes_the_image(host: Host) -> None:
    last = host.pixels(host.run(txt2img(prefix="l")))
    skip = host.pixels(host.run(txt2img(prefix="s", clip_skip=-2)))
    assert np.abs(last - skip).mean() > 0.5


def encode(host: Host, text: str, clip_skip: int | None = None) -> tuple[torch.Tensor, Any]:
    from builtin_nodes.clip_nodes import CLIPSetLastLayer, CLIPTextEncode
    from builtin_nodes.loaders import loader_classes

    folders = NodeFolders(host.base / "input", host.output, host.output, host.manager.folders)
    token = CURRENT_NODE.set(NodeContext("p", "1", 0, None, host.manager))
    try:
        _, clip, _ = loader_classes(folders)["CheckpointLoaderSimple"]().load_checkpoint(CHECKPOINT)
        if clip_skip is not None:
            [clip] = CLIPSetLastLayer().set_last_layer(clip, clip_skip)
        [[(cond, options)]] = CLIPTextEncode().encode(clip, text)
        return cond, options
    finally:
        CURRENT_NODE.reset(token)


def test_long_prompt_is_chunked_in_77s(host: Host) -> None:
    short, options = encode(host, "a cat")
    long, _ = encode(host, " ".join(["a photo of a cat"] * 25))  # 100 words: two chunks
    assert short.shape[1] == 77 and long.shape[1] == 154 and "pooled_output" in options


def test_embedding_from_the_embeddings_folder(host: Host) -> None:
    from safetensors.torch import save_file

    width = encode(host, "a cat")[0].shape[-1]
    folder = host.base / "models" / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"emb_params": torch.randn(2, width)}, str(folder / "mystyle.safetensors"))
    plain, _ = encode(host, "a cat")
    styled, _ = encode(host, "a cat embedding:mystyle")
    assert styled.shape == plain.shape and not torch.allclose(styled, plain)


def test_run_command_generates(base_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from host.cli import main

    path = tmp_path / "p.json"
    path.write_text(json.dumps(txt2img(steps=2, prefix="cli")))
    rc = main(["run", str(path), "--base-directory", str(base_dir), "--output-directory", str(tmp_path / "o"),
               "--cpu"])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "o" / "cli_00001_.png").is_file()


def test_unet_loader_fp8_weights_generate_close_to_fp32(host: Host) -> None:
    """UNETLoader with weight_dtype fp8_e4m3fn: the UNet's weights kept in fp8 (a quarter of fp32), the image
    close to the fp32 one but not the same (rounded weights), and the default again gives the fp32 pixels."""
    unet_dir = host.base / "models" / "diffusion_models"
    unet_dir.mkdir(parents=True, exist_ok=True)
    link = unet_dir / "unet_only.safetensors"
    if not link.exists():
        link.symlink_to(host.base / "models" / "checkpoints" / CHECKPOINT)

    def with_unet(dtype: str, prefix: str) -> dict[str, Any]:
        prompt = txt2img(prefix=prefix)
        prompt["9"] = {"class_type": "UNETLoader", "inputs": {"unet_name": link.name, "weight_dtype": dtype}}
        prompt["5"]["inputs"]["model"] = ["9", 0]
        return prompt

    base = host.pixels(host.run(txt2img(prefix="b")))
    fp8 = host.pixels(host.run(with_unet("fp8_e4m3fn", "f8")))
    default = host.pixels(host.run(with_unet("default", "d")))
    assert np.array_equal(default, base)
    assert 0 < np.abs(fp8 - base).mean() < 20
    fp8_model = host.manager.load_unet(link, weight_dtype="fp8_e4m3fn")  # the cached value the prompt used
    assert {p.dtype for p in fp8_model.unet.parameters()} == {torch.float8_e4m3fn}
