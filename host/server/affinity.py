"""Which idle worker gets a prompt: one that already holds its model files, then one whose last prompt shared
the most nodes with it (its output cache can answer them), else the least used."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

#: file endings of model weights (checkpoints, LoRAs, VAEs, text encoders, ...)
MODEL_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".pt2")


def model_files(prompt: dict[str, Any]) -> set[str]:
    """The model file names a prompt's constant inputs name (``ckpt_name``, ``lora_name``, ...)."""
    names: set[str] = set()
    for node in prompt.values():
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        for value in inputs.values():
            if isinstance(value, str) and value.lower().endswith(MODEL_SUFFIXES):
                names.add(value.replace("\\", "/"))
    return names


def held(names: set[str], paths: Sequence[str]) -> int:
    """How many of ``names`` (relative, as a prompt gives them) are among the loaded ``paths``."""
    loaded = [p.replace("\\", "/") for p in paths]
    return sum(1 for name in names if any(p == name or p.endswith("/" + name) for p in loaded))


def node_keys(prompt: dict[str, Any]) -> set[str]:
    """One key per node: its id, class and inputs (equal keys: the same node the cache may hold)."""
    keys = set()
    for node_id, node in prompt.items():
        try:
            keys.add(f"{node_id}:{json.dumps(node, sort_keys=True, default=str)}")
        except (TypeError, ValueError):
            continue
    return keys


def choose(idle: Sequence[Any], prompt: dict[str, Any], runs: dict[str, int] | None = None) -> Any:
    """The best of the ``idle`` workers for ``prompt``: a ready one (not restarting), then most of its models
    held, then most of its nodes seen in the worker's last prompt, then fewest prompts run so far (``runs`` by
    worker name), then pool order."""
    assert idle, "choose() needs an idle worker"
    if len(idle) == 1:
        return idle[0]
    names, keys, runs = model_files(prompt), node_keys(prompt), runs or {}

    def score(pair: tuple[int, Any]) -> tuple[int, int, int, int, int]:
        index, worker = pair
        restarting = 0 if getattr(worker, "ready", True) else 1
        return (restarting, -held(names, worker.holds()), -len(keys & worker.recent()), runs.get(worker.name, 0),
                index)

    return min(enumerate(idle), key=score)[1]


__all__ = ["choose", "held", "model_files", "node_keys"]
