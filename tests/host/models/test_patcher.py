"""ModelPatcher on the small SD1.5 checkpoint: clones share the weights, patches are written in place when the
model is readied (only patched keys backed up), undone for another patch set or none, bitwise; the manager's
``use`` is the hook; CLIP weights rounded through their fp16 storage; a LoRA for another family is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from host.models.devices import DeviceConfig
from host.models.errors import LoraKeysUnmatched, LoraMismatch, LoraShapeMismatch
from host.models.loading import load_checkpoint
from host.models.lora import Adapter, Diff
from host.models.lora_apply import load_lora_for_models, plan_lora
from host.models.manager import ModelManager
from host.models.patcher import FileOriginal, ModelPatcher, patch_state, sync_weights, weight_modules
from host.models.testing.make_checkpoint import make_checkpoint
from host.models.testing.make_lora import lora_state_dict

Q = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
TE_Q = "clip_l.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"


@pytest.fixture(scope="module")
def ckpt(sd15_small: Path):  # type: ignore[no-untyped-def]
    return load_checkpoint(sd15_small)


def weights(value) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {k: t.detach().clone() for k, t in ModelPatcher(value).model_state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_clone_shares_weights_and_add_patches_takes_known_keys(ckpt) -> None:  # type: ignore[no-untyped-def]
    p = ModelPatcher(ckpt.model)
    c = p.clone()
    assert c.unet is ckpt.model.unet and c.patches_uuid == p.patches_uuid and c.latent_scale == 0.18215
    taken = c.add_patches({Q: Diff(torch.zeros(320, 320)), "diffusion_model.nope.weight": Diff(torch.zeros(1))})
    assert taken == [Q] and c.patches_uuid != p.patches_uuid and not p.patches
    c.model_options["transformer_options"]["x"] = 1
    assert "x" not in p.model_options["transformer_options"]
    assert c.clone().model_options["transformer_options"] == {"x": 1}


def test_patch_in_place_then_undo_bitwise(ckpt) -> None:  # type: ignore[no-untyped-def]
    original = weights(ckpt.model)
    param = ckpt.model.unet.get_parameter(Q[len("diffusion_model."):])
    ptr = param.data_ptr()
    a, _ = load_lora_for_models(ckpt.model, None, lora_state_dict(clip=None, seed=1), 1.0, 0.0)
    b, _ = load_lora_for_models(ckpt.model, None, lora_state_dict(clip=None, seed=2, conv=True), 0.5, 0.0)
    sync_weights(a)
    with_a = weights(ckpt.model)
    assert not same(with_a, original) and param.data_ptr() == ptr
    state = patch_state(ckpt.model.unet)
    assert set(state.backup) == {k[len("diffusion_model."):] for k in a.patches}  # only the patched keys
    sync_weights(b)
    assert not same(weights(ckpt.model), with_a)
    sync_weights(a)
    assert same(weights(ckpt.model), with_a)
    sync_weights(ckpt.model)
    assert same(weights(ckpt.model), original) and not state.backup and param.data_ptr() == ptr


def test_originals_of_weights_converted_on_load_are_read_back_from_the_file(ckpt) -> None:  # type: ignore[no-untyped-def]
    """The fp16 file's UNet computes in fp32 on the CPU: its patched weights' originals are where the file holds
    them (no second copy in memory), put back bitwise; the CLIP (fp16 rounding) too."""
    original, clip_original = weights(ckpt.model), weights(ckpt.clip)
    m, c = load_lora_for_models(ckpt.model, ckpt.clip, lora_state_dict(seed=6), 1.0, 1.0)
    manager = ModelManager(DeviceConfig(cpu=True))
    manager.use(m)
    manager.use(c)
    for value in (ckpt.model, ckpt.clip):
        backup = {k: b for module, _ in weight_modules(value).values() for k, b in patch_state(module).backup.items()}
        assert backup and all(isinstance(b, FileOriginal) for b in backup.values())
    assert not same(weights(ckpt.model), original) and not same(weights(ckpt.clip), clip_original)
    keys = m.get_key_patches()
    torch.testing.assert_close(keys[Q][0][0], original[Q], rtol=0, atol=0)  # the original, for merges
    manager.use(ckpt.model)
    manager.use(ckpt.clip)
    assert same(weights(ckpt.model), original) and same(weights(ckpt.clip), clip_original)


def test_weights_that_are_the_mapped_file_keep_a_copy_and_leave_the_file_alone(tmp_path: Path) -> None:
    """An fp32 file on the CPU: the weights are the file's (private) mapping; patched in place with a copy of
    each original, the file itself unchanged."""
    path = make_checkpoint("sd15", "small", tmp_path / "fp32.safetensors", seed=3, dtype=torch.float32)
    before = path.read_bytes()
    ck = load_checkpoint(path)
    original = weights(ck.model)
    m, _ = load_lora_for_models(ck.model, None, lora_state_dict(clip=None, seed=7), 1.0, 0.0)
    sync_weights(m)
    backup = patch_state(ck.model.unet).backup
    assert backup and all(isinstance(b, torch.Tensor) for b in backup.values())
    assert not same(weights(ck.model), original)
    sync_weights(ck.model)
    assert same(weights(ck.model), original) and path.read_bytes() == before


def test_delta_is_the_lora_formula(ckpt) -> None:  # type: ignore[no-untyped-def]
    sd = lora_state_dict(clip=None, rank=4, alpha=2.0, seed=3)
    stem = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    up, down = sd[stem + ".lora_up.weight"].float(), sd[stem + ".lora_down.weight"].float()
    before = weights(ckpt.model)[Q]
    m, _ = load_lora_for_models(ckpt.model, None, sd, 0.8, 0.0)
    sync_weights(m)
    torch.testing.assert_close(weights(ckpt.model)[Q], before + 0.8 * 0.5 * up @ down)
    sync_weights(ckpt.model)


def test_manager_use_is_the_hook_and_clip_is_rounded_to_fp16(ckpt) -> None:  # type: ignore[no-untyped-def]
    manager = ModelManager(DeviceConfig(cpu=True))
    original = weights(ckpt.clip)
    m, c = load_lora_for_models(ckpt.model, ckpt.clip, lora_state_dict(seed=4), 1.0, 1.0)
    manager.use(c)
    patched = weights(ckpt.clip)[TE_Q]
    assert not torch.equal(patched, original[TE_Q]) and torch.equal(patched.half().float(), patched)
    manager.use(ckpt.clip)
    assert same(weights(ckpt.clip), original)
    manager.use(m)
    assert m.patches_uuid == patch_state(ckpt.model.unet).applied
    manager.use(ckpt.model)
    assert patch_state(ckpt.model.unet).applied is None


def test_clip_clone_keeps_its_own_layer(ckpt) -> None:  # type: ignore[no-untyped-def]
    _, c = load_lora_for_models(ckpt.model, ckpt.clip, lora_state_dict(seed=5), 1.0, 1.0)
    skip = c.clone()
    skip.set_last_layer(-2)
    assert skip.layer == -2 and c.layer != -2 and ckpt.clip.layer != -2 and skip.patches_uuid == c.patches_uuid


def test_get_key_patches_gives_the_original_while_patched(ckpt) -> None:  # type: ignore[no-untyped-def]
    original = weights(ckpt.model)[Q]
    m, _ = load_lora_for_models(ckpt.model, None, lora_state_dict(clip=None, seed=6), 1.0, 0.0)
    sync_weights(m)
    entry = m.get_key_patches("diffusion_model.input_blocks.1.1.")[Q]
    assert torch.equal(entry[0][0], original) and len(entry) == 2 and entry[1][0] == 1.0
    sync_weights(ckpt.model)


class _Broken(Adapter):
    name = "broken"

    def numel(self) -> int:
        return 0

    def apply(self, weight: torch.Tensor, strength: float, fn=None) -> torch.Tensor:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


def test_a_failed_apply_is_undone_next_time(ckpt) -> None:  # type: ignore[no-untyped-def]
    original = weights(ckpt.model)
    m, _ = load_lora_for_models(ckpt.model, None, lora_state_dict(clip=None, seed=7), 1.0, 0.0)
    m.add_patches({"diffusion_model.out.2.weight": _Broken()})
    with pytest.raises(RuntimeError):
        sync_weights(m)
    sync_weights(ckpt.model)
    assert same(weights(ckpt.model), original)


def test_lora_for_another_family_is_an_error(ckpt, sd21_small: Path) -> None:  # type: ignore[no-untyped-def]
    sd2 = load_checkpoint(sd21_small, want_vae=False)
    with pytest.raises(LoraShapeMismatch, match="another model family"):
        plan_lora(lora_state_dict(), sd2.model, sd2.clip, "sd15_lora.safetensors")


def test_unmatched_keys_are_errors(ckpt) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LoraKeysUnmatched, match="none of its 2 keys"):
        plan_lora({"foo.lora_up.weight": torch.zeros(1, 1), "foo.lora_down.weight": torch.zeros(1, 1)}, ckpt.model,
                  ckpt.clip)
    with pytest.raises(LoraKeysUnmatched):  # text-encoder keys only, applied to the model only
        plan_lora(lora_state_dict(unet=None), ckpt.model, None)
    renamed = {k.replace("lora_unet_down_blocks", "lora_unet_downer_blocks"): v
               for k, v in lora_state_dict().items() if "down_blocks" in k or k.startswith("lora_te")}
    with pytest.raises(LoraMismatch, match="diffusion model keys"):  # the text encoder part fits, the UNet's not
        plan_lora(renamed, ckpt.model, ckpt.clip)


def test_sdxl_te1_te2_on_a_composite_text_encoder(ckpt, sd15_small: Path) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    g = load_checkpoint(sd15_small, want_unet=False, want_vae=False).clip  # its own weights, standing in for G
    composite = SimpleNamespace(clip_l=ckpt.clip, clip_g=g)
    te = lora_state_dict(unet=None, seed=8)
    sd = {k.replace("lora_te_", "lora_te1_"): v for k, v in te.items()}
    sd |= {k.replace("lora_te_", "lora_te2_"): v for k, v in lora_state_dict(unet=None, seed=9).items()}
    plan = plan_lora(sd, None, composite)
    assert {k.split(".")[0] for k in plan.clip} == {"clip_l", "clip_g"} and len(plan.clip) == 24
    g_before, l_before = weights(g), weights(ckpt.clip)
    _, patched = load_lora_for_models(None, composite, sd, 0.0, 1.0)
    sync_weights(patched)
    assert not same(weights(g), g_before) and not same(weights(ckpt.clip), l_before)
    sync_weights(composite)
    assert same(weights(g), g_before) and same(weights(ckpt.clip), l_before)


def test_a_model_leaving_the_compute_device_gets_its_originals_back(ckpt) -> None:  # type: ignore[no-untyped-def]
    manager = ModelManager(DeviceConfig(cpu=True))
    original = weights(ckpt.model)
    m, _ = load_lora_for_models(ckpt.model, None, lora_state_dict(clip=None, seed=10), 1.0, 0.0)
    manager.use(m)
    assert not same(weights(ckpt.model), original)
    manager._placed[id(ckpt.model)] = (ckpt.model, 0)  # as if placed on a GPU
    manager.unload_all()
    assert same(weights(ckpt.model), original)
    assert manager._backup_device(1, torch.device("cpu")) == manager.offload_device


def test_patching_weights_mapped_from_the_file_leaves_the_file_alone(tmp_path: Path) -> None:
    """An fp32 checkpoint on the CPU computes from the mapped file pages: patches go to private copies."""
    import hashlib

    from host.models.testing.make_checkpoint import make_checkpoint

    path = make_checkpoint("sd15", "small", tmp_path / "fp32.safetensors", dtype=torch.float32)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ck = load_checkpoint(path, want_vae=False)
    original = weights(ck.model)
    m, _ = load_lora_for_models(ck.model, ck.clip, lora_state_dict(seed=11), 1.0, 1.0)
    sync_weights(m)
    assert not same(weights(ck.model), original)
    assert same(weights(load_checkpoint(path, want_vae=False, want_clip=False).model), original)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    sync_weights(ck.model)
    assert same(weights(ck.model), original)
