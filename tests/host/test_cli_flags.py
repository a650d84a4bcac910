"""ComfyUI 0.8.0's main.py flags on ``nodehost serve``: every one is accepted; the ones nodehost implements act,
the others log one line saying they have no effect."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from host.cli import build_parser, main
from host.cli_flags import NO_EFFECT

pytestmark = pytest.mark.timeout(60)

#: (argv after ``serve``) as launchers pass them, one per ComfyUI flag
COMFY_FLAGS = [
    ["--cpu"], ["--listen"], ["--listen", "0.0.0.0"], ["--port", "8189"], ["--output-directory", "o"],
    ["--input-directory", "i"], ["--temp-directory", "t"], ["--user-directory", "u"], ["--base-directory", "b"],
    ["--extra-model-paths-config", "a.yaml", "b.yaml"], ["--preview-method", "auto"], ["--preview-size", "256"],
    ["--cache-classic"], ["--cache-lru", "10"], ["--cache-none"], ["--cache-ram", "8"], ["--disable-metadata"],
    ["--enable-cors-header"], ["--enable-cors-header", "http://x"], ["--max-upload-size", "50"], ["--multi-user"],
    ["--verbose"], ["--verbose", "WARNING"], ["--log-stdout"], ["--disable-all-custom-nodes"],
    ["--whitelist-custom-nodes", "a", "b"], ["--dont-print-server"], ["--quick-test-for-ci"],
    ["--windows-standalone-build"], ["--auto-launch"], ["--disable-auto-launch"], ["--front-end-root", "w"],
    ["--front-end-version", "Comfy-Org/ComfyUI_frontend@latest"], ["--tls-keyfile", "k"], ["--tls-certfile", "c"],
    ["--cuda-device", "0"], ["--default-device", "1"], ["--cuda-malloc"], ["--disable-cuda-malloc"],
    ["--directml"], ["--oneapi-device-selector", "x"], ["--disable-ipex-optimize"], ["--supports-fp8-compute"],
    ["--gpu-only"], ["--highvram"], ["--normalvram"], ["--lowvram"], ["--novram"], ["--reserve-vram", "1.5"],
    ["--async-offload"], ["--disable-async-offload"], ["--force-non-blocking"], ["--disable-smart-memory"],
    ["--deterministic"], ["--fast"], ["--fast", "fp16_accumulation"], ["--disable-pinned-memory"],
    ["--mmap-torch-files"], ["--disable-mmap"], ["--default-hashing-function", "md5"], ["--disable-api-nodes"],
    ["--database-url", "sqlite:///x.db"], ["--comfy-api-base", "http://x"], ["--enable-compress-response-body"],
    ["--enable-manager"], ["--disable-manager-ui"], ["--enable-manager-legacy-ui"], ["--disable-xformers"],
    ["--use-split-cross-attention"], ["--use-quad-cross-attention"], ["--use-pytorch-cross-attention"],
    ["--use-sage-attention"], ["--use-flash-attention"], ["--force-upcast-attention"], ["--dont-upcast-attention"],
    ["--force-fp32"], ["--force-fp16"], ["--fp32-unet"], ["--fp64-unet"], ["--bf16-unet"], ["--fp16-unet"],
    ["--fp8_e4m3fn-unet"], ["--fp8_e5m2-unet"], ["--fp8_e8m0fnu-unet"], ["--fp16-vae"], ["--fp32-vae"],
    ["--bf16-vae"], ["--cpu-vae"], ["--fp8_e4m3fn-text-enc"], ["--fp8_e5m2-text-enc"], ["--fp16-text-enc"],
    ["--fp32-text-enc"], ["--bf16-text-enc"], ["--force-channels-last"], ["--enable-assets"],
    ["--disable-assets-autoscan"],
]


@pytest.mark.parametrize("argv", COMFY_FLAGS, ids=lambda a: " ".join(a))
def test_every_comfyui_flag_is_accepted(argv: list[str]) -> None:
    build_parser().parse_args(["serve", *argv])


def test_every_no_effect_flag_is_walked() -> None:
    walked = {argv[0] for argv in COMFY_FLAGS}
    assert set(NO_EFFECT) <= walked


def test_flags_that_act() -> None:
    parse = build_parser().parse_args
    assert parse(["serve", "--listen"]).listen == "0.0.0.0,::"
    assert parse(["serve"]).listen == "127.0.0.1"
    args = parse(["serve", "--extra-model-paths-config", "a.yaml", "b.yaml", "--extra-model-paths-config", "c.yaml"])
    assert args.extra_model_paths_config == ["a.yaml", "b.yaml", "c.yaml"]
    assert parse(["serve", "--verbose"]).verbose == "DEBUG"
    assert parse(["serve", "--offline"]).offline is True  # nodehost's own flag, not shadowed


def test_no_effect_flags_log_one_line_each(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from host.cli_flags import log_without_effect

    parser = build_parser()
    args = parser.parse_args(["serve", "--lowvram", "--tls-keyfile", "k", "--fast", "--disable-xformers", "--cpu"])
    with caplog.at_level(logging.INFO, logger="nodehost.cli"):
        flags = log_without_effect(args.serve_parser, args)
    assert flags == ["--disable-xformers", "--tls-keyfile", "--fast"]  # --lowvram, --cpu: implemented
    assert len([r for r in caplog.records if "has no effect" in r.getMessage()]) == 3


def test_quick_test_for_ci_starts_up_and_exits(tmp_path: Path) -> None:
    assert main(["serve", "--quick-test-for-ci", "--base-directory", str(tmp_path), "--memory-only"]) == 0


def test_front_end_version_must_name_the_installed_frontend(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("comfyui_frontend_package")
    argv = ["serve", "--quick-test-for-ci", "--memory-only", "--base-directory", str(tmp_path)]
    assert main([*argv, "--front-end-version", "Comfy-Org/ComfyUI_frontend@0.0.1"]) == 2
    assert "does not download" in capsys.readouterr().err
    assert main([*argv, "--front-end-version", "Comfy-Org/ComfyUI_frontend@latest"]) == 0
