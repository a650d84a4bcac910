"""ComfyUI's ``nodes`` module as an isolated node pack sees it.

Every node the host knows is here under its name (``nodes.CLIPTextEncode``, ``nodes.LoraLoader``, other
packs' nodes registered before this one), as a class whose function runs the node on the host;
``SaveImage`` and ``PreviewImage`` are real classes that run here (packs subclass them). A ComfyUI core node
the host lacks is a stand-in that raises when used. ``NODE_CLASS_MAPPINGS`` / ``NODE_DISPLAY_NAME_MAPPINGS``
hold them all. See isolate/core_nodes.py.
"""

from __future__ import annotations

from typing import Any

MAX_RESOLUTION = 16384

#: ``/extensions/<name>`` web folders ComfyUI serves (the host serves packs' ``WEB_DIRECTORY``)
EXTENSION_WEB_DIRS: dict[str, str] = {}
LOADED_MODULE_DIRS: dict[str, str] = {}


def interrupt_processing(value: bool = True) -> None:
    """Interrupt the running prompt (``comfy.model_management.interrupt_current_processing``)."""
    from comfy.model_management import interrupt_current_processing

    interrupt_current_processing(value)


def before_node_execution() -> None:
    """Raise ``InterruptProcessingException`` if the prompt was interrupted."""
    from comfy.model_management import throw_exception_if_processing_interrupted

    throw_exception_if_processing_interrupted()


def common_ksampler(model: Any, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
                    positive: Any, negative: Any, latent: dict[str, Any], denoise: float = 1.0,
                    disable_noise: bool = False, start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> tuple[dict[str, Any]]:
    """Sample ``latent`` with ``model`` on the host (the host's KSampler); returns ``(latent,)``."""
    from isolate.core_nodes import run_node

    if start_step is None and last_step is None and not disable_noise and not force_full_denoise:
        out = run_node("KSampler", {"model": model, "seed": seed, "steps": steps, "cfg": cfg,
                                    "sampler_name": sampler_name, "scheduler": scheduler, "positive": positive,
                                    "negative": negative, "latent_image": latent, "denoise": denoise})
    else:
        out = run_node("KSamplerAdvanced", {
            "model": model, "add_noise": "disable" if disable_noise else "enable", "noise_seed": seed,
            "steps": steps, "cfg": cfg, "sampler_name": sampler_name, "scheduler": scheduler, "positive": positive,
            "negative": negative, "latent_image": latent, "start_at_step": start_step or 0,
            "end_at_step": 10000 if last_step is None else last_step,
            "return_with_leftover_noise": "disable" if force_full_denoise else "enable", "denoise": denoise})
    return (out["values"][0],)


def __getattr__(name: str) -> Any:
    from isolate import core_nodes

    if name in ("NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"):
        classes, names = core_nodes.mappings()
        globals()["NODE_CLASS_MAPPINGS"], globals()["NODE_DISPLAY_NAME_MAPPINGS"] = classes, names
        return classes if name == "NODE_CLASS_MAPPINGS" else names
    if not name.startswith("_"):
        cls = core_nodes.core_node(name)
        if cls is not None:
            return cls
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
