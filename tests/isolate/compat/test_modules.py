"""``comfy.utils`` tensor helpers, ``comfy.model_management`` devices, ``comfy.comfy_types``,
``comfy_execution``, ``nodes`` and ``node_helpers``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch

import isolate.graph_utils as our_graph_utils
from isolate.dynprompt import DynamicPromptView


# -- comfy.utils -----------------------------------------------------------------------------------------------
def test_safetensors_round_trip_with_metadata(tmp_path: Path, load: Any) -> None:
    utils = load("comfy.utils")
    sd = {"a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(2, dtype=torch.float16)}
    path = tmp_path / "m.safetensors"
    utils.save_torch_file(sd, str(path), metadata={"format": "pt"})
    loaded, meta = utils.load_torch_file(str(path), return_metadata=True)
    assert meta == {"format": "pt"} and set(loaded) == set(sd)
    assert torch.equal(loaded["a.weight"], sd["a.weight"]) and loaded["b"].dtype == torch.float16
    assert torch.equal(utils.load_torch_file(path, device="cpu")["b"], sd["b"])
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    with pytest.raises(Exception):  # noqa: B017  (safetensors' own error or our ValueError)
        utils.load_torch_file(str(bad))


def test_torch_pickles_load_safely_and_unwrap(tmp_path: Path, load: Any) -> None:
    utils = load("comfy.utils")
    w = torch.zeros(2)
    torch.save({"state_dict": {"w": w}, "epoch": 3}, tmp_path / "a.ckpt")
    torch.save({"model": {"w": w}}, tmp_path / "b.pt")
    torch.save({"w": w, "v": w}, tmp_path / "c.pth")
    assert set(utils.load_torch_file(str(tmp_path / "a.ckpt"))) == {"w"}
    assert set(utils.load_torch_file(str(tmp_path / "b.pt"))) == {"w"}
    assert set(utils.load_torch_file(str(tmp_path / "c.pth"), safe_load=True)) == {"w", "v"}

    class Evil:
        def __reduce__(self) -> Any:
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="[Ww]eights only"):
        utils.load_torch_file(str(tmp_path / "evil.pt"))


def test_common_upscale_methods_and_center_crop(load: Any) -> None:
    utils = load("comfy.utils")
    x = torch.rand(2, 3, 10, 20)
    for method in ("nearest-exact", "bilinear", "area", "bicubic", "bislerp", "lanczos"):
        assert utils.common_upscale(x, 30, 15, method, "disabled").shape == (2, 3, 15, 30), method
    same = utils.common_upscale(x, 10, 10, "nearest-exact", "center")  # a 10x10 window from the middle
    assert torch.equal(same, x[..., :, 5:15])
    tall = utils.common_upscale(x.transpose(-1, -2).contiguous(), 10, 10, "nearest-exact", "center")
    assert torch.equal(tall, x.transpose(-1, -2)[..., 5:15, :])
    video = torch.rand(1, 4, 5, 8, 8)  # [B, C, T, H, W]
    up = utils.common_upscale(video, 16, 4, "nearest-exact", "disabled")
    assert up.shape == (1, 4, 5, 4, 16)
    assert torch.equal(up[:, :, 2], utils.common_upscale(video[:, :, 2], 16, 4, "nearest-exact", "disabled"))


def test_lanczos_keeps_images_in_range_and_latents_unclamped(load: Any) -> None:
    utils = load("comfy.utils")
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.0
    out = utils.lanczos(image, 16, 16)
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.shape == (1, 3, 16, 16)
    latent = image * 4 - 2
    assert utils.lanczos(latent, 16, 16).max() > 2.0  # ringing kept: no 8-bit round trip
    assert utils.lanczos(image.half(), 4, 4).dtype == torch.float16


def test_tiled_scale_matches_a_direct_scale(load: Any) -> None:
    utils = load("comfy.utils")
    x = torch.rand(2, 3, 50, 37)

    def up2(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")

    steps = utils.get_tiled_scale_steps(37, 50, 16, 16, 4)
    bar = utils.ProgressBar(steps * 2)
    out = utils.tiled_scale(x, up2, tile_x=16, tile_y=16, overlap=4, upscale_amount=2, pbar=bar)
    assert torch.allclose(out, up2(x), atol=1e-6)
    assert bar.current == steps * 2
    assert torch.allclose(utils.tiled_scale(x, lambda t: t, 64, 64, 8, 1), x, atol=1e-6)  # one tile


def test_tiled_scale_multidim_over_three_dims_and_downscale(load: Any) -> None:
    """Video-style latents [B, C, T, H, W] tiled over T, H and W; a downscaling function with ``downscale``."""
    utils = load("comfy.utils")
    x = torch.rand(1, 4, 9, 20, 23)

    def up(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(t, scale_factor=(1, 2, 2), mode="nearest")[:, :3]

    out = utils.tiled_scale_multidim(x, up, tile=(4, 8, 8), overlap=(1, 2, 2), upscale_amount=(1, 2, 2))
    assert out.shape == (1, 3, 9, 40, 46) and torch.allclose(out, up(x), atol=1e-6)
    image = torch.rand(2, 3, 32, 40)

    def down(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(t, 4)

    half = utils.tiled_scale_multidim(image, down, tile=(16, 16), overlap=8, upscale_amount=4, out_channels=3,
                                      downscale=True)
    assert half.shape == (2, 3, 8, 10) and torch.allclose(half, down(image), atol=1e-6)
    lengths = utils.tiled_scale_multidim(x[:, :3], lambda t: t, tile=(4, 8, 8), overlap=1, upscale_amount=1,
                                         index_formulas=lambda n: n)
    assert torch.allclose(lengths, x[:, :3], atol=1e-6)


def test_small_tensor_and_state_dict_helpers(load: Any) -> None:
    utils = load("comfy.utils")
    t = torch.arange(3).reshape(3, 1)
    assert utils.repeat_to_batch_size(t, 2).flatten().tolist() == [0, 1]
    assert utils.repeat_to_batch_size(t, 7).flatten().tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert utils.repeat_to_batch_size(t, 3) is t
    sd = {"model.a": 1, "model.b": 2, "other": 3}
    assert utils.state_dict_prefix_replace(dict(sd), {"model.": "m."}) == {"m.a": 1, "m.b": 2, "other": 3}
    assert utils.state_dict_prefix_replace(dict(sd), {"model.": ""}, filter_keys=True) == {"a": 1, "b": 2}
    assert utils.state_dict_key_replace({"x": 1, "y": 2}, {"x": "z"}) == {"y": 2, "z": 1}
    assert utils.calculate_parameters({"a.w": torch.zeros(2, 3), "b.w": torch.zeros(4)}, "a.") == 6


# -- comfy.model_management --------------------------------------------------------------------------------------
def test_devices_are_what_torch_sees(load: Any) -> None:
    mm = load("comfy.model_management")
    dev = mm.get_torch_device()
    assert isinstance(dev, torch.device)
    assert dev.type == ("cuda" if torch.cuda.is_available() else
                        "mps" if torch.backends.mps.is_available() else "cpu")
    assert mm.cpu_mode() == (dev.type == "cpu")
    assert mm.intermediate_device() == torch.device("cpu") == mm.unet_offload_device()
    assert mm.vae_device() == dev and mm.text_encoder_offload_device() == torch.device("cpu")
    assert mm.is_device_cpu(torch.device("cpu")) and mm.is_device_cuda("cuda:1") and not mm.is_device_mps("cpu")
    assert mm.get_total_memory() >= mm.get_free_memory() > 0
    free, torch_free = mm.get_free_memory(torch.device("cpu"), torch_free_too=True)
    assert free > 0 and torch_free >= 0
    assert issubclass(mm.OOM_EXCEPTION, Exception)
    assert isinstance(mm.vram_state, mm.VRAMState) and isinstance(mm.cpu_state, mm.CPUState)
    assert mm.xformers_enabled() is False and mm.current_loaded_models == []
    assert mm.load_models_gpu([object()], memory_required=1, force_full_load=True) is None
    mm.soft_empty_cache()
    mm.unload_all_models()
    y = mm.cast_to_device(torch.ones(2), torch.device("cpu"), torch.float16)
    assert y.dtype == torch.float16
    with pytest.raises(AttributeError, match="isolated child"):
        mm.no_such_thing  # noqa: B018


def test_dtype_policy_on_the_cpu(load: Any) -> None:
    mm = load("comfy.model_management")
    cpu = torch.device("cpu")
    assert not mm.should_use_fp16(cpu) and not mm.should_use_bf16(cpu)
    assert mm.unet_dtype(cpu) == torch.float32 and mm.vae_dtype(cpu) == torch.float32
    assert mm.vae_dtype(cpu, [torch.float16, torch.float32]) == torch.float32
    assert mm.supports_dtype(cpu, torch.float32) and not mm.supports_dtype(cpu, torch.float16)
    assert mm.unet_manual_cast(torch.float16, cpu) == torch.float32
    assert mm.unet_manual_cast(torch.float32, cpu) is None
    if mm.cpu_mode():
        assert mm.vram_state == mm.VRAMState.DISABLED and mm.text_encoder_device() == cpu


# -- typing, graph, nodes, node_helpers --------------------------------------------------------------------------
def test_io_types_compare_like_comfyui(load: Any) -> None:
    nt = load("comfy.comfy_types.node_typing")
    types = load("comfy.comfy_types")
    io = types.IO
    assert io is nt.IO and io.INT == "INT" and str(io.IMAGE) == "IMAGE" and io.ANY == "*"
    assert not (io.ANY != "IMAGE") and not ("LATENT" != io.ANY)  # noqa: SIM202
    assert io.INT != "FLOAT" and not (io.NUMBER != "INT") and not (io.INT != "INT")  # noqa: SIM202
    assert io.IMAGE != 3 and {io.INT: 1}["INT"] == 1
    for name in ("STRING", "MASK", "LATENT", "CONDITIONING", "MODEL", "CLIP", "VAE", "SIGMAS", "PRIMITIVE"):
        assert hasattr(io, name)

    class Node(types.ComfyNodeABC, types.CheckLazyMixin):
        @classmethod
        def INPUT_TYPES(cls) -> Any:  # noqa: N802
            return {"required": {"a": (io.INT, {"default": 1})}}

    assert Node().check_lazy_status(a=None, b=2) == ["a"]
    for name in ("InputTypeDict", "InputTypeOptions", "HiddenInputTypeDict", "FileLocator", "UnetApplyFunction",
                 "UnetParams", "UnetApplyConds", "UnetWrapperFunction"):
        assert hasattr(types, name), name


def test_comfy_execution_is_isolates_objects(load: Any) -> None:
    gu = load("comfy_execution.graph_utils")
    graph = load("comfy_execution.graph")
    for name in ("GraphBuilder", "Node", "ExecutionBlocker", "is_link", "add_graph_prefix"):
        assert getattr(gu, name) is getattr(our_graph_utils, name)
    assert graph.ExecutionBlocker is our_graph_utils.ExecutionBlocker and graph.DynamicPrompt is DynamicPromptView

    class Cls:
        @classmethod
        def INPUT_TYPES(cls) -> Any:  # noqa: N802
            return {"required": {"x": ("INT", {"min": 0})}, "optional": {"y": ("IMAGE",)},
                    "hidden": {"uid": "UNIQUE_ID"}}

    assert graph.get_input_info(Cls, "x") == ("INT", "required", {"min": 0})
    assert graph.get_input_info(Cls, "y") == ("IMAGE", "optional", {})
    assert graph.get_input_info(Cls, "uid") == ("UNIQUE_ID", "hidden", {})
    assert graph.get_input_info(Cls, "z") == (None, None, None)
    with pytest.raises(AttributeError, match="host"):
        graph.ExecutionList  # noqa: B018


def test_nodes_module(load: Any) -> None:
    nodes = load("nodes")
    assert nodes.MAX_RESOLUTION == 16384
    # outside a child connected to a host: the classes that run in the pack, and stand-ins for the rest
    assert sorted(nodes.NODE_CLASS_MAPPINGS) == ["PreviewImage", "SaveImage"]
    nodes.before_node_execution()
    assert nodes.SaveImage.FUNCTION == "save_images" and issubclass(nodes.PreviewImage, nodes.SaveImage)
    from isolate.standins import NotProvidedError, is_stand_in

    assert is_stand_in(nodes.LoraLoader)
    with pytest.raises(NotProvidedError, match="nodes.LoraLoader"):
        nodes.LoraLoader()
    assert not hasattr(nodes, "NoSuchNode")


def test_node_helpers(load: Any) -> None:
    nh = load("node_helpers")
    cond = [[torch.zeros(1), {"strength": 1.0, "keep": "k"}]]
    out = nh.conditioning_set_values(cond, {"strength": 0.5, "area": (1, 2)})
    assert out[0][1] == {"strength": 0.5, "keep": "k", "area": (1, 2)} and cond[0][1]["strength"] == 1.0
    assert out[0][0] is cond[0][0]
    assert nh.conditioning_set_values(cond, {"strength": 0.5}, append=True)[0][1]["strength"] == 1.5
    assert nh.conditioning_set_values(cond, {"new": [1]}, append=True)[0][1]["new"] == [1]

    from PIL import ImageFile

    calls = []

    def flaky(arg: str) -> str:
        calls.append(ImageFile.LOAD_TRUNCATED_IMAGES)
        if len(calls) == 1:
            raise OSError("image file is truncated")
        return arg.upper()

    assert nh.pillow(flaky, "ok") == "OK" and calls == [False, True]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert nh.hasher() is hashlib.sha256
    assert nh.string_to_torch_dtype("bf16") == torch.bfloat16 and nh.string_to_torch_dtype("x") is None
    dest, src = nh.image_alpha_fix(torch.zeros(1, 2, 2, 3), torch.zeros(1, 2, 2, 4))
    assert dest.shape[-1] == src.shape[-1] == 3
    dest, src = nh.image_alpha_fix(torch.zeros(1, 2, 2, 4), torch.zeros(1, 2, 2, 3))
    assert dest.shape[-1] == 4 and src.shape[-1] == 4 and bool((src[..., -1] == 1).all())


def test_torch_compile_wrapper_is_accepted_with_one_warning(load: Any, caplog: Any) -> None:
    """A pack's torch-compile node calls comfy_api.torch_helpers.set_torch_compile_wrapper on its MODEL: the
    call returns, the model is left as it is, and one warning says compiling is not applied."""
    helpers = load("comfy_api.torch_helpers")
    model = object()
    with caplog.at_level("WARNING"):
        assert helpers.set_torch_compile_wrapper(model, backend="inductor", mode="max-autotune") is None
        helpers.set_torch_compile_wrapper(model, backend="inductor", mode="max-autotune")
    notes = [r for r in caplog.records if "torch.compile" in r.getMessage()]
    assert len(notes) == 1 and "not applied" in notes[0].getMessage()


def test_a_checkpoint_path_folder_paths_did_not_find_is_a_clear_error(folders: dict[str, Any], load: Any) -> None:
    """A pack passes ``folder_paths.get_full_path(...)`` on unchecked (Comfyroll's CR Select Model): when that is
    None (no such file, or a sandbox without the models folder) the error says so, not a TypeError."""
    folder_paths, sd = load("folder_paths"), load("comfy.sd")
    path = folder_paths.get_full_path("checkpoints", "missing.safetensors")
    with pytest.raises(FileNotFoundError, match=r"read = \["):
        sd.load_checkpoint_guess_config(path)
