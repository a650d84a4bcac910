"""Objects a pack builds itself that stand for a host node's output (a NOISE from a seed, a SAMPLER by name):
they work in the child as ComfyUI's do, and passed to the host they cross as what the host's own node makes
from the same inputs, made the first time one crosses in a prompt (the host holds its objects for one prompt)."""

from __future__ import annotations

from typing import Any


class HostMade:
    """Subclasses say which host node makes their host twin (``host_node``) and from what (``host_inputs``)."""

    _nh_made: tuple[str, Any] | None = None  # (prompt id, the host's object made for that prompt)

    def host_node(self) -> str:
        raise NotImplementedError

    def host_inputs(self) -> dict[str, Any]:
        return {}

    @property
    def __nh_ref__(self) -> Any:  # isolate/codec.py: what crosses when this is passed to the host
        from isolate.context import current_node
        from isolate.core_nodes import run_node

        ctx = current_node()
        prompt = ctx.prompt_id if ctx else ""
        if self._nh_made is None or self._nh_made[0] != prompt:
            (made,) = run_node(self.host_node(), self.host_inputs())["values"]
            self._nh_made = (prompt, made)
        return self._nh_made[1]
