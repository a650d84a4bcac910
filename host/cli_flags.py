"""ComfyUI 0.8.0's ``main.py`` flags on ``nodehost serve``, so launchers and scripts written for ComfyUI start it.

Each flag either does here what it does in ComfyUI (defined where nodehost implements it: ``cli_serve``, ``cli``,
``cli_ext``; those definitions win and are skipped here) or is accepted and, when given, logged once as having
no effect. :data:`NO_EFFECT` lists the second kind with the reason."""

from __future__ import annotations

import argparse
import logging
from typing import Any

_PRECISION = ["--force-fp32", "--force-fp16", "--fp32-unet", "--fp64-unet", "--bf16-unet", "--fp16-unet",
              "--fp8_e4m3fn-unet", "--fp8_e5m2-unet", "--fp8_e8m0fnu-unet", "--fp16-vae", "--fp32-vae", "--bf16-vae",
              "--cpu-vae", "--fp8_e4m3fn-text-enc", "--fp8_e5m2-text-enc", "--fp16-text-enc", "--fp32-text-enc",
              "--bf16-text-enc", "--force-channels-last", "--supports-fp8-compute"]
_ATTENTION = ["--use-split-cross-attention", "--use-quad-cross-attention", "--use-pytorch-cross-attention",
              "--use-sage-attention", "--use-flash-attention", "--disable-xformers", "--force-upcast-attention",
              "--dont-upcast-attention"]
_MEMORY = ["--gpu-only", "--highvram", "--normalvram", "--lowvram", "--novram", "--disable-smart-memory",
           "--disable-async-offload", "--force-non-blocking", "--disable-pinned-memory", "--mmap-torch-files",
           "--disable-mmap", "--cuda-malloc", "--disable-cuda-malloc", "--disable-ipex-optimize", "--deterministic"]
_MISC_SWITCHES = ["--auto-launch", "--disable-auto-launch", "--windows-standalone-build", "--disable-api-nodes",
                  "--enable-compress-response-body", "--enable-manager", "--disable-manager-ui",
                  "--enable-manager-legacy-ui", "--disable-assets-autoscan"]

#: flag -> (argparse keywords, why it does nothing here). Switches not listed take ``store_true``.
_VALUED: dict[str, dict[str, Any]] = {
    "--tls-keyfile": {"metavar": "PATH"}, "--tls-certfile": {"metavar": "PATH"},
    "--cuda-device": {"type": int, "metavar": "DEVICE_ID"}, "--default-device": {"type": int, "metavar": "DEVICE_ID"},
    "--directml": {"type": int, "nargs": "?", "const": -1, "metavar": "DIRECTML_DEVICE"},
    "--oneapi-device-selector": {"metavar": "SELECTOR_STRING"},
    "--preview-method": {"default": "none", "choices": ["none", "auto", "latent2rgb", "taesd"]},
    "--preview-size": {"type": int, "default": 512},
    "--cache-classic": {"action": "store_true"},
    "--reserve-vram": {"type": float, "metavar": "GB"},
    "--async-offload": {"type": int, "nargs": "?", "const": 2, "metavar": "NUM_STREAMS"},
    "--default-hashing-function": {"default": "sha256", "choices": ["md5", "sha1", "sha256", "sha512"]},
    "--fast": {"nargs": "*", "metavar": "FEATURE"},
    "--comfy-api-base": {"default": "https://api.comfy.org"},
    "--database-url": {"default": None},
    "--whitelist-custom-nodes": {"nargs": "+", "default": [], "metavar": "NAME"},
    "--enable-assets": {"action": "store_true"},
}

_REASONS = {
    **{f: "nodehost chooses weight and compute dtypes per model; precision flags are not read yet" for f in _PRECISION},
    **{f: "attention runs through torch's scaled_dot_product_attention" for f in _ATTENTION},
    **{f: "the model manager's own memory policy applies" for f in _MEMORY},
    "--tls-keyfile": "TLS is not served; put a reverse proxy in front", "--tls-certfile": "TLS is not served",
    "--cuda-device": "set CUDA_VISIBLE_DEVICES instead", "--default-device": "set CUDA_VISIBLE_DEVICES instead",
    "--directml": "DirectML is not supported", "--oneapi-device-selector": "oneAPI is not supported",
    "--preview-method": "sampling previews are not sent yet", "--preview-size": "sampling previews are not sent yet",
    "--cache-classic": "the default cache is already ComfyUI's classic one",
    "--reserve-vram": "the model manager's own memory policy applies",
    "--async-offload": "the model manager's own memory policy applies",
    "--default-hashing-function": "uploads are compared by SHA-256",
    "--fast": "no optional fast paths are implemented", "--comfy-api-base": "API nodes are not provided",
    "--database-url": "nodehost keeps its queue in --database (SQLite)",
    "--whitelist-custom-nodes": "every pack runs isolated in its own process; there is no per-pack allow-list",
    "--enable-assets": "the assets API is not provided",
    "--auto-launch": "nodehost never opens a browser", "--disable-auto-launch": "nodehost never opens a browser",
    "--windows-standalone-build": "nodehost is not a Windows standalone build",
    "--disable-api-nodes": "API nodes are not provided",
    "--enable-compress-response-body": "responses are not compressed",
    "--enable-manager": "ComfyUI-Manager is not provided; use nodehost ext",
    "--disable-manager-ui": "ComfyUI-Manager is not provided", "--enable-manager-legacy-ui": "no ComfyUI-Manager",
    "--disable-assets-autoscan": "the assets API is not provided",
}

#: every accepted flag that has no effect here, with the reason logged when it is given
NO_EFFECT: dict[str, str] = {flag: _REASONS[flag] for flag in [*_PRECISION, *_ATTENTION, *_MEMORY, *_MISC_SWITCHES,
                                                                 *_VALUED]}


def _defined(parser: argparse.ArgumentParser, flag: str) -> bool:
    return flag in parser._option_string_actions  # argparse has no public look-up


def add_comfy_flags(parser: argparse.ArgumentParser) -> list[str]:
    """Add ComfyUI's flags that ``parser`` does not define yet; the flags added."""
    group = parser.add_argument_group("ComfyUI compatibility (accepted; see nodehost serve --help)")
    added = []
    for flag, reason in NO_EFFECT.items():
        if _defined(parser, flag):
            continue
        options = _VALUED.get(flag, {"action": "store_true"})
        group.add_argument(flag, help=f"no effect: {reason}", **options)
        added.append(flag)
    return added


def given_without_effect(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The no-effect flags whose value differs from the default (i.e. the user passed them); a flag nodehost
    defines itself (the model manager's --lowvram, --preview-method, ...) is not one of them."""
    found = []
    for flag in NO_EFFECT:
        action = parser._option_string_actions.get(flag)
        if action is None or not (action.help or "").startswith("no effect:"):
            continue
        if getattr(args, action.dest, None) != action.default:
            found.append(flag)
    return found


def log_without_effect(parser: argparse.ArgumentParser, args: argparse.Namespace,
                       log: logging.Logger | None = None) -> list[str]:
    """One log line per flag given that does nothing here."""
    log = log or logging.getLogger("nodehost.cli")
    flags = given_without_effect(parser, args)
    for flag in flags:
        log.info("%s has no effect in nodehost: %s", flag, NO_EFFECT[flag])
    return flags


__all__ = ["NO_EFFECT", "add_comfy_flags", "given_without_effect", "log_without_effect"]
