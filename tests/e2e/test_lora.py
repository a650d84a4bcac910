"""LoraLoader / LoraLoaderModelOnly end to end through the executor on the small SD1.5 checkpoint and random
LoRAs in kohya's layout (and LyCORIS/PEFT): a LoRA changes the image, strength 0 gives the un-LoRA'd pixels, a
prompt without it afterwards gives the original pixels again (the patches undone), model and clip strengths act
separately, LoRAs stack, and a LoRA for another family is a node error naming the file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e.helpers import Host, txt2img

from host.models.testing.layouts import SD15_UNET, UNetLayout
from host.models.testing.make_lora import SMALL_CLIP, make_lora

pytestmark = pytest.mark.timeout(600)
SD2_LIKE = UNetLayout(**{**SD15_UNET.__dict__, "channel_mult": (1,), "num_res_blocks": 1, "attn_levels": (0,),
                         "context_dim": 1024, "linear_proj": True})


@pytest.fixture(scope="module")
def loras(base_dir: Path) -> Path:
    folder = base_dir / "models" / "loras"
    make_lora(folder / "style.safetensors", rank=4, seed=1)
    make_lora(folder / "other.safetensors", rank=8, alpha=8.0, seed=2, conv=True)
    make_lora(folder / "lyco" / "loha.safetensors", rank=4, style="loha", seed=3)
    make_lora(folder / "peft.safetensors", rank=4, style="peft", seed=4)
    from safetensors.torch import save_file

    from host.models.testing.make_lora import lora_state_dict

    save_file(lora_state_dict(SD2_LIKE, SMALL_CLIP, seed=5), str(folder / "sd2_lora.safetensors"))
    return folder


def lora(prompt: dict[str, Any], name: str, sm: float, sc: float | None = None, node: str = "10",
         src: str = "1") -> dict[str, Any]:
    """``prompt`` with a LoraLoader (LoraLoaderModelOnly when ``sc`` is None) after node ``src``."""
    p = copy.deepcopy(prompt)
    model_src = [src, 0]
    if sc is None:
        p[node] = {"class_type": "LoraLoaderModelOnly", "inputs": {"model": model_src, "lora_name": name,
                                                                   "strength_model": sm}}
    else:
        p[node] = {"class_type": "LoraLoader", "inputs": {"model": model_src, "clip": [src, 1], "lora_name": name,
                                                          "strength_model": sm, "strength_clip": sc}}
        p["2"]["inputs"]["clip"] = p["3"]["inputs"]["clip"] = [node, 1]
    p["5"]["inputs"]["model"] = [node, 0]
    return p


def run(host: Host, prompt: dict[str, Any], tag: str) -> np.ndarray:
    prompt = copy.deepcopy(prompt)
    prompt["7"]["inputs"]["filename_prefix"] = tag
    return host.pixels(host.run(prompt, tag))


def differs(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.abs(a - b).mean()) > 1.0


def test_lora_changes_the_image_then_is_undone(host: Host, loras: Path) -> None:
    base = txt2img(steps=2)
    before = run(host, base, "before")
    with_lora = run(host, lora(base, "style.safetensors", 1.0, 1.0), "with")
    after = run(host, base, "after")
    assert differs(with_lora, before)
    assert np.array_equal(after, before)
    assert np.array_equal(run(host, lora(base, "style.safetensors", 1.0, 1.0), "again"), with_lora)


def test_strength_zero_gives_the_plain_pixels(host: Host, loras: Path) -> None:
    base = txt2img(steps=2, seed=3)
    plain = run(host, base, "plain0")
    run(host, lora(base, "other.safetensors", 1.0, 1.0), "warm")  # leave other patches applied
    assert np.array_equal(run(host, lora(base, "other.safetensors", 0.0, 0.0), "zero"), plain)
    assert np.array_equal(run(host, lora(base, "other.safetensors", 0.0), "zero_model_only"), plain)


def test_model_and_clip_strengths_act_separately(host: Host, loras: Path) -> None:
    base = txt2img(steps=2, seed=4)
    plain = run(host, base, "plain1")
    model_only = run(host, lora(base, "style.safetensors", 1.0), "model_only")
    assert np.array_equal(run(host, lora(base, "style.safetensors", 1.0, 0.0), "model_not_clip"), model_only)
    clip_only = run(host, lora(base, "style.safetensors", 0.0, 1.0), "clip_only")
    both = run(host, lora(base, "style.safetensors", 1.0, 1.0), "both")
    assert differs(model_only, plain) and differs(clip_only, plain)
    assert differs(clip_only, model_only) and differs(both, model_only) and differs(both, clip_only)
    assert differs(run(host, lora(base, "style.safetensors", -1.0, 0.0), "negative"), model_only)


def test_loras_stack_and_other_styles_apply(host: Host, loras: Path) -> None:
    base = txt2img(steps=2, seed=5)
    plain = run(host, base, "plain2")
    one = run(host, lora(base, "style.safetensors", 1.0, 1.0), "one")
    two = lora(lora(base, "style.safetensors", 1.0, 1.0), "other.safetensors", 1.0, 1.0, node="11", src="10")
    assert differs(run(host, two, "two"), one)
    assert differs(run(host, lora(base, "lyco/loha.safetensors", 1.0, 1.0), "loha"), plain)
    assert differs(run(host, lora(base, "peft.safetensors", 1.0, 1.0), "peft"), plain)
    assert np.array_equal(run(host, base, "plain3"), plain)


def test_lora_for_another_family_is_a_node_error(host: Host, loras: Path) -> None:
    result = host.run(lora(txt2img(steps=1), "sd2_lora.safetensors", 1.0, 1.0), "wrong")
    assert result.status == "error" and result.error["node_id"] == "10"
    assert result.error["exception_type"].endswith("LoraShapeMismatch")
    assert "sd2_lora.safetensors" in result.error["exception_message"]
    assert "another model family" in result.error["exception_message"]
    assert host.run(txt2img(steps=1, prefix="after-wrong"), "after-wrong").status == "success"


def test_missing_lora_is_a_validation_error(host: Host, loras: Path) -> None:
    from host.executor.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        host.run(lora(txt2img(steps=1), "absent.safetensors", 1.0, 1.0), "absent")
