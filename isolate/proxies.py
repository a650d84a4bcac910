"""Host objects inside a pack child: a reference to the host's object (``OpaqueRef``) wrapped in a class with
ComfyUI's names, whose methods run on the host (``model_call``). The MODEL is a
``comfy.model_patcher.ModelPatcher``, the CLIP a ``comfy.sd.CLIP``, the VAE a ``comfy.sd.VAE``; another host
object stays a plain reference. Passed back to the host (a node output, an argument of a host call), a proxy
crosses as its reference: the host gets its own object again (a MODEL clone carrying patches the host applies
crosses with them, and the host gets a clone of its object: isolate/model_patches.py).
"""

from __future__ import annotations

import logging
from typing import Any

from isolate.codec import OpaqueRef

log = logging.getLogger(__name__)


class HostObject:
    """Base of the proxies: ``_ref`` names the host's object, ``_call`` runs one of its methods there."""

    def __init__(self, ref: OpaqueRef) -> None:
        self._ref = ref

    @property
    def __nh_ref__(self) -> OpaqueRef:
        return self._ref

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from isolate import host_link
        from isolate.context import current_node

        ctx = current_node()
        return host_link.call("model_call", ref=self._ref, method=method, args=list(args), kwargs=kwargs,
                              prompt_id=ctx.prompt_id if ctx else "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of the host's {self._ref.type} #{self._ref.id}>"


def _classes() -> dict[str, type]:
    from comfy.model_patcher import ModelPatcher
    from comfy.sd import CLIP, VAE

    return {"DiffusionModel": ModelPatcher, "ModelPatcher": ModelPatcher, "TextEncoder": CLIP, "VAE": VAE,
            "PixelSpaceVAE": VAE}


_by_type: dict[str, type] | None = None


def wrap_host_object(ref: OpaqueRef) -> Any:
    """The proxy for a host object (a reference as it is for types without one, or from another pack)."""
    global _by_type
    if ref.owner != "host":
        return ref
    if _by_type is None:
        _by_type = _classes()
    cls = _by_type.get(ref.type)
    return cls(ref) if cls is not None else ref
