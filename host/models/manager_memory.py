"""Memory figures and moves for the model manager: bytes a model holds, free bytes of a device, moving a
model (a DiffusionModel, TextEncoder, VAE or plain ``nn.Module``) between devices, ``/system_stats`` entries."""

from __future__ import annotations

from typing import Any

from host.runtime import memory_bytes


def ram_bytes() -> tuple[int, int]:
    """(total, available) RAM."""
    return memory_bytes()


def _modules(model: Any) -> list[Any]:
    """The torch modules a model value holds: itself, or its module attributes (``unet``, ``model``, ...)."""
    import torch

    if isinstance(model, torch.nn.Module):
        return [model]
    found = []
    for value in vars(model).values() if hasattr(model, "__dict__") else ():
        if isinstance(value, torch.nn.Module):
            found.append(value)
    return found


def model_bytes(model: Any) -> int:
    """Bytes of a model's weights: its ``nbytes()`` when it has one, else its modules' parameters and buffers."""
    nbytes = getattr(model, "nbytes", None)
    if callable(nbytes):
        return int(nbytes())
    total = 0
    for module in _modules(model):
        for t in (*module.parameters(), *module.buffers()):
            total += t.numel() * t.element_size()
    return total


def move_model(model: Any, device: Any) -> None:
    """Move a model's weights to ``device``: its ``.to(device)`` when it has one, else each module's."""
    mover = getattr(model, "to", None)
    if callable(mover):
        mover(device)
        return
    for module in _modules(model):
        module.to(device)


def device_free_bytes(device: Any) -> int:
    """Free bytes on ``device``: CUDA's free memory plus what torch's allocator holds unused; RAM for the CPU."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))
    return ram_bytes()[1]


def device_stats(device: str) -> dict[str, Any]:
    """One ``/system_stats`` device entry with the real figures (ComfyUI's keys)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        free, total = torch.cuda.mem_get_info(dev)
        reserved = torch.cuda.memory_reserved(dev)
        return {"name": f"{dev} {torch.cuda.get_device_name(dev)}", "type": "cuda", "index": dev.index or 0,
                "vram_total": int(total), "vram_free": int(free), "torch_vram_total": int(reserved),
                "torch_vram_free": int(reserved - torch.cuda.memory_allocated(dev))}
    total, free = ram_bytes()
    return {"name": "cpu", "type": "cpu", "index": None, "vram_total": total, "vram_free": free,
            "torch_vram_total": total, "torch_vram_free": free}


__all__ = ["device_free_bytes", "device_stats", "model_bytes", "move_model", "ram_bytes"]
