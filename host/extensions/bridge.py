"""What a pack child asks of the host while its code runs (isolate/host_link.py is the child's end).

- ``host_info``: the node types the host knows (each one's /object_info entry, its ComfyUI function name and
  plain class attributes such as ``ImageScale.upscale_methods``), sampler and scheduler names, the flags
  ``comfy.cli_args.args`` reports. Asked once, when the pack first imports ``nodes`` or ``comfy.samplers``.
- ``run_node``: a node's function called from pack code (``nodes.CLIPTextEncode().encode(clip, text)``) runs
  here, through the node's own runner, in the context of the pack node that called it.
- ``model_call``: a method of a host model (MODEL, CLIP, VAE) called on its proxy in the child.
- ``sample``: ``comfy.sample.sample`` with a MODEL: the host's KSampler samples, with the pack's noise.
- ``apply_model``: the UNet call a pack's model_function_wrapper makes while the host samples (the wrapper is
  itself a callback into the child: host/extensions/model_patches.py).

Values cross with the pack runner's codec: tensors through shared memory, models as references the child
wraps in proxies (isolate/proxies.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from host.extensions import model_calls
from isolate.calls import NodeCall
from isolate.context import CURRENT_NODE, NodeContext

if TYPE_CHECKING:
    from host.extensions.remote import RemoteRunner
    from host.registry import Registry
    from isolate.rpc.peer import Peer

log = logging.getLogger("nodehost.extensions")


class HostCallError(RuntimeError):
    """A pack asked the host for something it cannot do (an unknown node, a method a model lacks)."""


def _plain(value: Any) -> bool:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def class_attributes(cls: type) -> dict[str, Any]:
    """The plain-data class attributes a pack may read from a core node class (``upscale_methods``...)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        for key, value in vars(klass).items():
            if not key.startswith("_") and key.isidentifier() and _plain(value):
                found[key] = list(value) if isinstance(value, tuple) else value
    return found


def _params(fn: Any) -> list[str]:
    """The parameter names of a node's function, in order (how pack code passes them positionally)."""
    import inspect

    if fn is None:
        return []
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values() if p.name not in ("self", "cls")
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


class HostBridge:
    """The host's answers to one registry's pack children (one object, shared by every pack runner)."""

    def __init__(self, registry: Registry, args: dict[str, Any] | None = None) -> None:
        self.registry = registry
        #: ``comfy.cli_args.args`` as the child reports it (the host's flags that ComfyUI also has)
        self.args = dict(args or {})

    def install(self, peer: Peer, runner: RemoteRunner) -> None:
        peer.register("host_info", lambda _: self.host_info())
        peer.register("run_node", lambda params: self.run_node(runner, params))
        peer.register("model_call", lambda params: self.model_call(runner, params))
        peer.register("sample", lambda params: self.sample(runner, params))
        peer.register("apply_model", lambda params: self.apply_model(runner, params))

    # -- host_info ------------------------------------------------------------------------------------
    def host_info(self) -> dict[str, Any]:
        from host.models.sampling.names import SAMPLER_NAMES, SCHEDULER_NAMES

        return {"nodes": {name: self.describe(name) for name in list(self.registry.nodes)},
                "samplers": list(SAMPLER_NAMES), "schedulers": list(SCHEDULER_NAMES), "args": self.args}

    def describe(self, name: str) -> dict[str, Any]:
        bound = self.registry.nodes[name]
        cls = getattr(bound.runner, "_classes", {}).get(name)
        info: dict[str, Any] = {"info": bound.nodedef.info, "origin": bound.nodedef.origin}
        if cls is not None and hasattr(cls, "define_schema"):
            # a v3 node: its FUNCTION is the v3 dispatcher; pack code calls ComfyUI's v1 name (ImageBatch.batch)
            info["function"] = model_calls.V3_FUNCTIONS.get(name, "execute")
            info["attrs"] = class_attributes(cls)
            info["params"] = _params(getattr(cls, "execute", None))
        elif cls is not None:
            info["function"] = getattr(cls, "FUNCTION", None) or model_calls.V3_FUNCTIONS.get(name, "execute")
            info["attrs"] = class_attributes(cls)
            info["params"] = _params(getattr(cls, info["function"], None))
        else:  # another pack's node: its function name is in its definition
            info["function"] = model_calls.V3_FUNCTIONS.get(name, "execute")
        return info

    # -- run_node -------------------------------------------------------------------------------------
    def _context(self, runner: RemoteRunner, params: dict[str, Any]) -> NodeContext | None:
        return runner.context_of(str(params.get("prompt_id") or ""))

    def _in_context(self, runner: RemoteRunner, params: dict[str, Any], body: Any) -> Any:
        ctx = self._context(runner, params)
        token = CURRENT_NODE.set(ctx)
        try:
            return body()
        finally:
            CURRENT_NODE.reset(token)

    def run_node(self, runner: RemoteRunner, params: dict[str, Any]) -> Any:
        name = params["class_type"]
        bound = self.registry.get(name)
        if bound is None:
            raise HostCallError(f"the host has no node {name!r}")
        inputs = runner.codec.decode(params.get("inputs") or {})
        ctx = self._context(runner, params)
        call = NodeCall(ctx.prompt_id if ctx else "", ctx.node_id if ctx else "", name, 0, inputs,
                        runner.codec.decode(params.get("hidden") or {}))
        out = self._in_context(runner, params, lambda: bound.runner.execute(call))
        if hasattr(out, "__await__"):
            raise HostCallError(f"{name} is an async node: call it from an async node body")
        return runner.codec.encode({"values": list(out.values), "ui": out.ui})

    # -- models ---------------------------------------------------------------------------------------
    def model_call(self, runner: RemoteRunner, params: dict[str, Any]) -> Any:
        target = runner.codec.decode(params["ref"])
        args = runner.codec.decode(params.get("args") or [])
        kwargs = runner.codec.decode(params.get("kwargs") or {})
        method = str(params["method"])
        fn = model_calls.method_of(target, method)
        if fn is None:
            raise HostCallError(f"{type(target).__name__} has no method {method!r} callable from a pack")
        return runner.codec.encode(self._in_context(runner, params, lambda: fn(target, *args, **kwargs)))

    def sample(self, runner: RemoteRunner, params: dict[str, Any]) -> Any:
        kwargs = runner.codec.decode(params.get("kwargs") or {})
        return runner.codec.encode(self._in_context(runner, params, lambda: model_calls.sample(**kwargs)))

    def apply_model(self, runner: RemoteRunner, params: dict[str, Any]) -> Any:
        fn = runner.live.get(int(params["ref"]))
        if fn is None:
            raise HostCallError("apply_model was called outside the model_function_wrapper call that gave it")
        c = runner.codec.decode(params.get("c") or {})
        out = fn(runner.codec.decode(params["input"]), runner.codec.decode(params["timestep"]), **c)
        return runner.codec.encode(out)
