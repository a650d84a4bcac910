"""One worker's figures for /metrics, gathered where the worker runs (in-process, or inside a Ray actor): model
memory per device, shared memory in use, pack children started and crashed."""

from __future__ import annotations

from typing import Any


def local_stats(name: str, models: Any, shm: Any, runners: list[Any]) -> dict[str, Any]:
    """``{"name", "models": [{"device", "bytes"}], "shm_bytes", "pack_starts", "pack_crashes",
    "loaded_files"}``; reads only what the objects already know (never loads torch)."""
    return {"name": name, "models": model_bytes(models), "shm_bytes": shm.stats().bytes if shm is not None else 0,
            "pack_starts": {r.name: getattr(r, "starts", 0) for r in runners},
            "pack_crashes": {r.name: getattr(r, "crashes", 0) for r in runners},
            "loaded_files": len(models.cached_files()) if models is not None else 0}


def model_bytes(models: Any) -> list[dict[str, Any]]:
    """Bytes of model weights placed per device (the model manager's own accounting)."""
    if models is None:
        return []
    return [{"device": device, "bytes": nbytes} for device, nbytes in models.memory_by_device().items()]


__all__ = ["local_stats", "model_bytes"]
