"""A MODEL patched by a pack is sampled by the host with the pack's patches (issue 19):
tests/packs/patches/patch_pack runs isolated against a small random SD1.5. Its clone with a weight diff changes
the image and leaves the original model as it was (a later prompt gives the original pixels); its CFG
functions, attention patches and UNet wrapper are called back in its process while the host samples, giving
the pixels ComfyUI's semantics give; a pack process killed inside a callback is a node error, and the host
runs the next prompt."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pack_model_runs import CHECKPOINT, PackRun, run_pack_prompts

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "tests" / "packs" / "patches" / "patch_pack"

pytestmark = pytest.mark.timeout(600)

MODEL, CLIP, VAE = ["1", 0], ["1", 1], ["1", 2]
SEED = 4


def base() -> dict[str, Any]:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a blue cone", "clip": CLIP}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "noise", "clip": CLIP}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    }


def sampled(prompt: dict[str, Any], at: int, name: str, model: list[Any], cfg: float = 7.0) -> None:
    """KSampler -> VAEDecode -> SaveImage (prefix ``name``) at node ids at, at+1, at+2."""
    prompt[str(at)] = {"class_type": "KSampler", "inputs": {
        "seed": SEED, "steps": 2, "cfg": cfg, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
        "model": model, "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0]}}
    decoded(prompt, at, name)


def decoded(prompt: dict[str, Any], at: int, name: str) -> None:
    prompt[str(at + 1)] = {"class_type": "VAEDecode", "inputs": {"samples": [str(at), 0], "vae": VAE}}
    prompt[str(at + 2)] = {"class_type": "SaveImage", "inputs": {"filename_prefix": name, "images": [str(at + 1), 0]}}


PATCHES = {"diff": "PatchWeightDiff", "plaincfg": "PatchPlainCfg", "condonly": "PatchCondOnly",
           "post": "PatchPostCfgScale", "attn": "PatchAttnIdentity", "wrapper": "PatchUnetWrapper",
           "rescaled": "PatchRescaledCfg", "attn1": "PatchAttn1Value", "attn2": "PatchAttn2Context",
           "attn1replace": "PatchAttn1Replace", "unetscaled": "PatchUnetScaled"}


def main_prompt() -> dict[str, Any]:
    prompt = base()
    sampled(prompt, 10, "plain", MODEL)
    sampled(prompt, 13, "cfg1", MODEL, cfg=1.0)
    for i, (name, node) in enumerate(PATCHES.items()):
        at = 20 + 4 * i
        prompt[str(at)] = {"class_type": node, "inputs": {"model": MODEL}}
        sampled(prompt, at + 1, name, [str(at), 0])
    prompt["90"] = {"class_type": "PatchSampleCondOnly", "inputs": {
        "model": MODEL, "positive": ["2", 0], "negative": ["3", 0], "latent": ["4", 0], "seed": SEED}}
    decoded(prompt, 90, "packsample")
    return prompt


def plain_prompt() -> dict[str, Any]:
    prompt = base()
    sampled(prompt, 10, "again", MODEL)
    return prompt


def dying_prompt(node: str) -> dict[str, Any]:
    prompt = base()
    prompt["20"] = {"class_type": node, "inputs": {"model": MODEL}}
    sampled(prompt, 21, "dead", ["20", 0])
    return prompt


def after_prompt() -> dict[str, Any]:
    """After the deaths: an attention-patched clone (the restarted child serves it) and the plain MODEL (no
    patch of the dead child's left on the UNet)."""
    prompt = base()
    prompt["20"] = {"class_type": "PatchAttnIdentity", "inputs": {"model": MODEL}}
    sampled(prompt, 21, "after", ["20", 0])
    sampled(prompt, 30, "afterplain", MODEL)
    return prompt


def interrupt_when_sleeping(executor: Any, runners: list[Any]) -> None:
    """A thread that interrupts the prompt once the pack's CFG function says it sleeps (the host samples on the
    loop's thread meanwhile)."""
    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(b"sleeping in the cfg function" in chunk for r in runners for chunk in list(r.stderr)):
                executor.interrupt()
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> PackRun:
    return run_pack_prompts(tmp_path_factory, "patches", PACK, [
        (main_prompt(), "main"), (plain_prompt(), "plain"), (dying_prompt("PatchDieInCfg"), "dying"),
        (dying_prompt("PatchDieInAttn"), "dying-attn"),
        (dying_prompt("PatchSleepInCfg"), "sleeping", interrupt_when_sleeping), (after_prompt(), "after")])


def pixels(ran: PackRun, result: Any, node: str) -> Any:
    from PIL import Image

    [image] = result.outputs[node]["images"]
    with Image.open(ran.output / image["subfolder"] / image["filename"]) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


def diff(a: Any, b: Any) -> int:
    return int(np.abs(a - b).max())


def node_of(name: str) -> str:
    return str(20 + 4 * list(PATCHES).index(name) + 3)


def ok(result: Any) -> None:
    assert result.status == "success", "".join((result.error or {}).get("traceback") or []) or result.error


def test_the_pack_registers_and_the_prompts_run(ran: PackRun) -> None:
    assert ran.status.state == "ready", ran.status.reason
    assert sorted(ran.status.nodes) == sorted([*PATCHES.values(), "PatchDieInCfg", "PatchDieInAttn",
                                              "PatchSleepInCfg", "PatchSampleCondOnly"])
    for result in (ran.results[0], ran.results[1], ran.results[5]):
        ok(result)


def test_a_weight_diff_changes_the_image_and_leaves_the_model_as_it_was(ran: PackRun) -> None:
    main, again = ran.results[0], ran.results[1]
    plain = pixels(ran, main, "12")
    assert float(plain.std()) > 1
    assert diff(pixels(ran, main, node_of("diff")), plain) > 5
    assert diff(pixels(ran, again, "12"), plain) == 0  # the next prompt samples the original weights


def test_cfg_functions_give_comfyuis_results(ran: PackRun) -> None:
    main = ran.results[0]
    plain, cfg1 = pixels(ran, main, "12"), pixels(ran, main, "15")
    assert diff(plain, cfg1) > 5
    assert diff(pixels(ran, main, node_of("plaincfg")), plain) <= 1  # plain CFG in noise form
    assert diff(pixels(ran, main, node_of("condonly")), cfg1) <= 1  # cond only is cfg 1
    assert diff(pixels(ran, main, "92"), cfg1) <= 1  # the same clone sampled from pack code


def _patch_math() -> Any:
    spec = importlib.util.spec_from_file_location("patch_math", PACK / "patch_math.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: what each pack node sets, as the host's own model_options entries (the same functions, run in the host)
def _host_options(name: str, math: Any) -> dict[str, Any]:
    return {
        "post": {"sampler_post_cfg_function": [math.post_cfg_scale]},
        "rescaled": {"sampler_cfg_function": math.rescaled_cfg},
        "attn1": {"transformer_options": {"patches": {"attn1_patch": [math.attn1_value]}}},
        "attn2": {"transformer_options": {"patches": {"attn2_patch": [math.attn2_context]}}},
        "attn1replace": {"transformer_options": {"patches_replace": {"attn1": {("input", 1): math.attn1_replace}}}},
        "unetscaled": {"model_function_wrapper": math.unet_scaled},
    }[name]


@pytest.fixture(scope="module")
def host_sample(ran: PackRun) -> Any:
    """The host's own KSampler on a host clone given ``options``, decoded as SaveImage writes it."""
    import torch

    from host.models.loading import load_checkpoint
    from host.models.sampling import ksampler

    ckpt = load_checkpoint(ran.checkpoint)
    with torch.no_grad():
        conds = []
        for text in ("a blue cone", "noise"):
            cond, pooled = ckpt.clip.encode(ckpt.clip.tokenize(text))
            conds.append([[cond, {"pooled_output": pooled}]])

    def sample(options: dict[str, Any]) -> Any:
        from host.models.patcher import ModelPatcher

        clone = ModelPatcher(ckpt.model).clone()
        clone.model_options.update(options)
        with torch.no_grad():
            samples = ksampler(clone, seed=SEED, steps=2, cfg=7.0, sampler_name="euler", scheduler="normal",
                               positive=conds[0], negative=conds[1], latent={"samples": torch.zeros(1, 4, 8, 8)})
            image = ckpt.vae.decode(samples)
        return np.clip(255.0 * image[0].cpu().numpy(), 0, 255).astype(np.uint8).astype(np.int16)

    return sample


@pytest.mark.parametrize("name", ["post", "rescaled", "attn1", "attn2", "attn1replace", "unetscaled"])
def test_a_packs_function_changes_the_image_as_the_host_computes_it(ran: PackRun, host_sample: Any,
                                                                    name: str) -> None:
    """The pack's function, called back in its process while the host samples, against the host's own sampler
    given the same function: the image changes, and exactly as the host's own computation says."""
    ok(ran.results[0])
    patched, plain = pixels(ran, ran.results[0], node_of(name)), pixels(ran, ran.results[0], "12")
    assert diff(patched, plain) > 5
    assert diff(host_sample({}), plain) <= 1  # the reference itself is the host KSampler's plain image
    assert diff(patched, host_sample(_host_options(name, _patch_math()))) <= 1


def test_identity_attention_patches_and_wrapper_give_the_same_pixels(ran: PackRun) -> None:
    main = ran.results[0]
    plain = pixels(ran, main, "12")
    assert diff(pixels(ran, main, node_of("attn")), plain) <= 1
    assert diff(pixels(ran, main, node_of("wrapper")), plain) <= 1


@pytest.mark.parametrize("at", [2, 3], ids=["in-cfg-function", "in-attention-patch"])
def test_a_pack_killed_in_a_callback_is_a_node_error(ran: PackRun, at: int) -> None:
    dying = ran.results[at]
    assert dying.status == "error"
    assert dying.error["exception_type"] == "ExtensionCrashed", dying.error
    assert "patch_pack" in dying.error["exception_message"], dying.error
    assert "signal 9" in dying.error["exception_message"] and dying.error["node_id"] == "21"


def test_an_interrupt_while_a_packs_function_ignores_it_kills_the_pack_after_its_grace(ran: PackRun) -> None:
    """The function sleeps 60 s; the interrupted prompt ends within the 2 s grace (plus the kill and the
    prompt's other nodes), as interrupted, not as an error."""
    sleeping = ran.results[4]
    assert sleeping.status == "interrupted", sleeping.error
    assert ran.seconds[4] < 40, ran.seconds[4]


def test_after_the_deaths_the_pack_restarts_and_the_model_is_as_it_was(ran: PackRun) -> None:
    after, plain = ran.results[5], pixels(ran, ran.results[0], "12")
    ok(after)
    assert diff(pixels(ran, after, "23"), plain) <= 1
    assert diff(pixels(ran, after, "32"), plain) <= 1
