"""``comfy_api.torch_helpers``: ComfyUI's ``set_torch_compile_wrapper`` (torch.compile a MODEL's diffusion model).

In a pack child the MODEL is a proxy of the host's model: the host samples it, and compiling the host's module
from a pack's process is not something a child can do. The call is accepted (torch-compile nodes of packs such as
KJNodes run and pass the model on unchanged) with one warning naming what was asked; the model runs as the host
runs it.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_warned: set[str] = set()


def set_torch_compile_wrapper(model: Any, backend: str = "inductor", options: dict[str, Any] | None = None,
                              mode: str | None = None, fullgraph: bool = False, dynamic: bool | None = None,
                              keys: list[str] | None = None, *args: Any, **kwargs: Any) -> None:
    what = f"backend={backend!r} mode={mode!r} keys={keys or ['diffusion_model']}"
    if what not in _warned:
        _warned.add(what)
        log.warning("nodehost: torch.compile of the host's model asked from a pack (%s) is not applied: the host "
                    "runs the model uncompiled", what)


__all__ = ["set_torch_compile_wrapper"]
