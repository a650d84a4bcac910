"""Custom-sampling graphs on the small random SD1.5 checkpoint, through the executor: SamplerCustomAdvanced
(RandomNoise + CFGGuider + KSamplerSelect + BasicScheduler) and SamplerCustom give exactly KSampler's pixels
for the same settings; DualCFGGuider and the Sampler* nodes run; bad sigmas are clear node errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from e2e.helpers import Host, txt2img

from host.executor.events import Progress

pytestmark = pytest.mark.timeout(300)


def advanced(seed: int = 1, steps: int = 3, cfg: float = 7.0, sampler: str = "euler", scheduler: str = "normal",
             denoise: float = 1.0, prefix: str = "adv") -> dict[str, Any]:
    """txt2img with KSampler (node 5) replaced by SamplerCustomAdvanced and its four inputs."""
    prompt = txt2img(seed=seed, steps=steps, prefix=prefix)
    prompt["5"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["20", 0], "guider": ["21", 0], "sampler": ["22", 0], "sigmas": ["23", 0],
        "latent_image": ["4", 0]}}
    prompt["20"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}}
    prompt["21"] = {"class_type": "CFGGuider", "inputs": {
        "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": cfg}}
    prompt["22"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": sampler}}
    prompt["23"] = {"class_type": "BasicScheduler", "inputs": {
        "model": ["1", 0], "scheduler": scheduler, "steps": steps, "denoise": denoise}}
    return prompt


def ksampler(seed: int = 1, steps: int = 3, sampler: str = "euler", denoise: float = 1.0,
             prefix: str = "ks") -> dict[str, Any]:
    prompt = txt2img(seed=seed, steps=steps, prefix=prefix)
    prompt["5"]["inputs"].update(sampler_name=sampler, denoise=denoise)
    return prompt


@pytest.mark.parametrize("sampler", ["euler", "euler_ancestral"])
def test_sampler_custom_advanced_equals_ksampler(host: Host, sampler: str) -> None:
    expected = host.pixels(host.run(ksampler(seed=4, sampler=sampler), "ks"))
    result = host.run(advanced(seed=4, sampler=sampler), "adv")
    assert np.array_equal(host.pixels(result), expected)
    steps = [(e.value, e.max) for e in host.sink.of(Progress) if e.node == "5" and e.prompt_id == "adv"]
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_basic_scheduler_denoise_below_one_equals_ksampler_denoise(host: Host) -> None:
    expected = host.pixels(host.run(ksampler(seed=2, steps=4, denoise=0.6), "ks"))
    assert np.array_equal(host.pixels(host.run(advanced(seed=2, steps=4, denoise=0.6), "adv")), expected)


def test_sampler_custom_equals_ksampler(host: Host) -> None:
    expected = host.pixels(host.run(ksampler(seed=3, sampler="dpmpp_2m"), "ks"))
    prompt = txt2img(seed=3, steps=3, prefix="custom")
    prompt["5"] = {"class_type": "SamplerCustom", "inputs": {
        "model": ["1", 0], "add_noise": True, "noise_seed": 3, "cfg": 7.0, "positive": ["2", 0],
        "negative": ["3", 0], "sampler": ["22", 0], "sigmas": ["23", 0], "latent_image": ["4", 0]}}
    prompt["22"] = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}}
    prompt["23"] = {"class_type": "BasicScheduler", "inputs": {
        "model": ["1", 0], "scheduler": "normal", "steps": 3, "denoise": 1.0}}
    prompt["8"] = {"class_type": "VAEDecode", "inputs": {"samples": ["5", 1], "vae": ["1", 2]}}
    prompt["9"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "denoised", "images": ["8", 0]}}
    result = host.run(prompt, "custom")
    assert np.array_equal(host.pixels(result), expected)
    assert host.pixels(result, "9").shape == (64, 64, 3)


def test_dual_cfg_guider_and_sampler_nodes_run(host: Host) -> None:
    prompt = advanced(seed=1, steps=2, prefix="dual")
    prompt["21"] = {"class_type": "DualCFGGuider", "inputs": {
        "model": ["1", 0], "cond1": ["2", 0], "cond2": ["24", 0], "negative": ["3", 0], "cfg_conds": 5.0,
        "cfg_cond2_negative": 3.0, "style": "nested"}}
    prompt["24"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "a blue sphere", "clip": ["1", 1]}}
    prompt["22"] = {"class_type": "SamplerDPMPP_2M_SDE", "inputs": {
        "solver_type": "heun", "eta": 1.0, "s_noise": 1.0, "noise_device": "cpu"}}
    dual = host.pixels(host.run(prompt, "dual"))
    plain = host.pixels(host.run(advanced(seed=1, steps=2, prefix="plain"), "plain"))
    assert dual.shape == (64, 64, 3) and np.abs(dual - plain).mean() > 0


def test_empty_and_wrong_sigmas_are_clear_errors(host: Host) -> None:
    prompt = advanced(steps=1, prefix="bad")
    prompt["23"] = {"class_type": "SetFirstSigma", "inputs": {"sigmas": ["25", 0], "sigma": 14.6}}
    prompt["25"] = {"class_type": "ManualSigmas", "inputs": {"sigmas": "no numbers here"}}
    result = host.run(prompt, "bad")
    assert result.status == "error" and result.error["node_id"] == "23"
    assert result.error["exception_type"].endswith("InvalidSigmas") and "empty" in result.error["exception_message"]
    # empty sigmas into the sampler: nothing to sample, the latent passes through (ComfyUI's denoise 0)
    prompt = advanced(steps=1, prefix="zero", denoise=0.0)
    assert host.run(prompt, "zero").status == "success"
