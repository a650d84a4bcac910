"""isolate/model_patches.py: a ModelPatcher proxy crosses as its bare reference until it carries something the
host applies, then as ``patched`` with the weight patches as data and the functions as references kept in the
pack; what the host does not apply is one warning per kind; a callback gets ComfyUI's arguments."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
import torch

from isolate import model_patches
from isolate.codec import Codec, OpaqueRef

REF = OpaqueRef("host", 7, "DiffusionModel")


def pack_codec() -> tuple[Codec, list[Any]]:
    store: list[Any] = []

    def export(t: Any) -> dict[str, int]:
        store.append(t)
        return {"i": len(store) - 1}

    return Codec("pack", export=export, open=lambda h: store[h["i"]]), store


def host_side(data: Any, store: list[Any]) -> tuple[Any, Any]:
    """What the host decodes: (its object, the payload) for a patched clone."""
    got: list[Any] = []
    host = Codec("host", open=lambda h: store[h["i"]], patched=lambda base, payload: got.append((base, payload)))
    host._objects[7] = "the host's model"
    out = host.decode(msgspec.json.decode(msgspec.json.encode(data)))
    return (out, None) if not got else got[0]


def proxy() -> Any:
    from comfy.model_patcher import ModelPatcher

    return ModelPatcher(REF)


def test_an_unpatched_clone_crosses_as_its_reference() -> None:
    codec, store = pack_codec()
    clone = proxy().clone()
    clone.model_options["transformer_options"]["pack_data"] = 1  # data only: nothing the host applies
    assert host_side(codec.encode([clone]), store) == (["the host's model"], None)


def test_a_patched_clone_crosses_with_its_patches_and_function_references() -> None:
    codec, store = pack_codec()
    clone = proxy().clone()
    diff = torch.ones(2, 2)
    clone.add_patches({"diffusion_model.out.2.weight": (diff,)}, 0.5, 1.0)
    clone.add_patches({("diffusion_model.out.2.bias", (0, 0, 1)): ("diff", (torch.ones(1),))})

    def cfg(args: Any) -> Any:
        return args["cond"]

    clone.set_model_sampler_cfg_function(cfg, disable_cfg1_optimization=True)
    clone.set_model_sampler_post_cfg_function(lambda a: a["denoised"])
    clone.set_model_attn2_patch(lambda n, c, v, e: (n, c, v))
    clone.set_model_attn2_replace(lambda q, k, v, e: q, "input", 4)
    clone.set_model_attn1_replace(lambda q, k, v, e: q, "middle", 0, 1)
    base, payload = host_side(codec.encode(clone), store)
    assert base == "the host's model"
    (name, sp, value, sm, offset), (name2, _, value2, _, offset2) = payload["weights"]
    assert (name, sp, sm, offset) == ("diffusion_model.out.2.weight", 0.5, 1.0, None) and value[0] is diff
    assert name2 == "diffusion_model.out.2.bias" and offset2 == [0, 0, 1] and value2[0] == "diff"
    assert sorted(payload["options"]) == ["sampler_cfg_function", "sampler_post_cfg_function"]
    fn = payload["options"]["sampler_cfg_function"]
    assert isinstance(fn, OpaqueRef) and fn.owner == "pack" and codec._objects[fn.id] is cfg
    assert payload["disable_cfg1"] is True and len(payload["patches"]["attn2_patch"]) == 1
    assert [e[:3] for e in payload["replace"]["attn2"]] == [["input", 4, None]]
    assert [e[:3] for e in payload["replace"]["attn1"]] == [["middle", 0, 1]]
    owner = codec._objects[payload["owner"].id]
    assert isinstance(owner, model_patches.Kept) and owner.patcher is clone


def test_what_the_host_does_not_apply_is_one_warning_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    codec, _ = pack_codec()
    clone = proxy().clone()
    clone.add_object_patch("diffusion_model.thing", object())
    clone.add_wrapper_with_key("outer_sample", "k", lambda *a: None)
    clone.model_options["denoise_mask_function"] = lambda *a: None
    model_patches._warned.clear()
    with caplog.at_level(logging.WARNING):
        codec.encode(clone)
        codec.encode(clone.clone())
    warned = [r.getMessage() for r in caplog.records if "does not apply" in r.getMessage()]
    assert len(warned) == 3, warned
    assert any("object patch" in w for w in warned) and any("denoise_mask_function" in w for w in warned)


def test_a_callback_gets_comfyuis_arguments() -> None:
    clone = proxy().clone()
    clone.model_options["transformer_options"]["mine"] = 5
    seen: dict[str, Any] = {}

    def cfg(args: Any) -> Any:
        seen.update(args)
        return args["cond"]

    assert model_patches.run_callback("cfg", cfg, clone, [{"cond": 1, "uncond": 2}]) == 1
    assert seen["model_options"] is clone.model_options and seen["model"] is clone.model
    out = model_patches.run_callback("attn", lambda n, c, v, e: (n, c, e["mine"] + e["n_heads"]), clone,
                                     ["n", "c", None, {"n_heads": 8}])
    assert out == ["n", "c", 13]
    with pytest.raises(ValueError, match="unknown callback kind"):
        model_patches.run_callback("nope", cfg, clone, [])
