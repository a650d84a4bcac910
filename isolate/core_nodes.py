"""The host's node classes as a pack child sees them (``nodes.CLIPTextEncode``, ``nodes.NODE_CLASS_MAPPINGS``).

Each node the host knows becomes a v1 class here with the host's INPUT_TYPES, RETURN_TYPES, ComfyUI's
function name and plain class attributes (``ImageScale.upscale_methods``); calling its function runs the node
on the host (``run_node``), models and tensors crossing as usual. SaveImage and PreviewImage are real classes
here (isolate/save_nodes.py): packs subclass them and their subclasses run in the child. A ComfyUI core node
the host does not have is a stand-in (isolate/standins.py) so that importing it never fails.

The host is asked once (``host_info``), on first use; outside a connected child only the local classes and
stand-ins exist.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from isolate import host_link
from isolate.standins import stand_in

log = logging.getLogger(__name__)

#: ComfyUI's core node names (its ``nodes.py`` and the ``comfy_extras`` nodes packs import), stood in when the
#: host lacks them
COMFY_CORE_NODES = frozenset("""
KSampler CheckpointLoaderSimple CLIPTextEncode CLIPSetLastLayer VAEDecode VAEEncode VAEEncodeForInpaint VAELoader
EmptyLatentImage LatentUpscale LatentUpscaleBy LatentFromBatch RepeatLatentBatch SaveImage PreviewImage LoadImage
LoadImageMask LoadImageOutput ImageScale ImageScaleBy ImageInvert ImageBatch ImagePadForOutpaint EmptyImage
ConditioningAverage ConditioningCombine ConditioningConcat ConditioningSetArea ConditioningSetAreaPercentage
ConditioningSetAreaStrength ConditioningSetMask KSamplerAdvanced SetLatentNoiseMask LatentComposite LatentBlend
LatentRotate LatentFlip LatentCrop LoraLoader CLIPLoader UNETLoader DualCLIPLoader CLIPVisionEncode StyleModelApply
unCLIPConditioning ControlNetApply ControlNetApplyAdvanced ControlNetLoader DiffControlNetLoader StyleModelLoader
CLIPVisionLoader VAEDecodeTiled VAEEncodeTiled unCLIPCheckpointLoader GLIGENLoader GLIGENTextBoxApply
InpaintModelConditioning CheckpointLoader DiffusersLoader LoadLatent SaveLatent ConditioningZeroOut
ConditioningSetTimestepRange LoraLoaderModelOnly
BasicGuider CFGGuider BasicScheduler KarrasScheduler ExponentialScheduler SDTurboScheduler SplitSigmas
SamplerCustom SamplerCustomAdvanced KSamplerSelect RandomNoise DisableNoise
LatentBatch LatentAdd LatentSubtract LatentMultiply LatentInterpolate CLIPTextEncodeSDXL CLIPTextEncodeSDXLRefiner
ModelSamplingDiscrete ModelSamplingFlux ModelSamplingAuraFlow ModelSamplingSD3 ModelSamplingContinuousEDM
MaskComposite SolidMask InvertMask CropMask FeatherMask GrowMask ImageToMask MaskToImage ImageCompositeMasked
""".split())

_lock = threading.Lock()
_info: dict[str, Any] | None = None
_classes: dict[str, type] = {}


def host_info() -> dict[str, Any]:
    """What the host told this child about itself (``{}`` outside a connected child)."""
    global _info
    if _info is None:
        with _lock:
            if _info is None:
                if not host_link.connected():
                    return {}
                _info = host_link.link().call("host_info") or {}
    return _info


class HostNode:
    """Base of the host's nodes as classes here (``isinstance(x, HostNode)``: it runs on the host)."""

    __nh_class_type__ = ""
    __nh_params__: tuple[str, ...] = ()

    def _run_on_host(self, *args: Any, **kwargs: Any) -> Any:
        params = self.__nh_params__
        if len(args) > len(params):
            raise TypeError(f"{type(self).__name__}: {len(args)} positional arguments for {len(params)} inputs")
        kwargs = {**dict(zip(params, args, strict=False)), **kwargs}
        out = run_node(self.__nh_class_type__, kwargs)
        values = tuple(out.get("values") or ())
        return {"ui": out["ui"], "result": values} if out.get("ui") else values


def run_node(class_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the host's node ``class_type`` with ``inputs`` in the context of the running pack node."""
    from isolate.context import current_node

    ctx = current_node()
    return host_link.call("run_node", class_type=class_type, inputs=inputs,
                          prompt_id=ctx.prompt_id if ctx else "", node_id=ctx.node_id if ctx else "")


def _input_types(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, slots in (info.get("input") or {}).items():
        out[section] = {name: tuple(spec) if isinstance(spec, list) else spec for name, spec in slots.items()}
    return out


def make_class(name: str, described: dict[str, Any]) -> type:
    """A v1 class for the host node ``name`` (``described``: the host's ``describe``)."""
    info = described["info"]
    function = described.get("function") or "execute"
    input_types = _input_types(info)

    def INPUT_TYPES(cls: type) -> dict[str, Any]:  # noqa: N802
        return {k: dict(v) for k, v in input_types.items()}

    attrs: dict[str, Any] = dict(described.get("attrs") or {})
    for slot, attr in (("upscale_method", "upscale_methods"), ("crop", "crop_methods")):
        spec = (input_types.get("required") or {}).get(slot)  # ComfyUI keeps these combos as class attributes
        if attr not in attrs and spec and isinstance(spec[0], list):
            attrs[attr] = list(spec[0])
    attrs.update({
        "INPUT_TYPES": classmethod(INPUT_TYPES), "RETURN_TYPES": tuple(info.get("output") or ()),
        "RETURN_NAMES": tuple(info.get("output_name") or ()), "FUNCTION": function,
        "OUTPUT_IS_LIST": tuple(info.get("output_is_list") or ()), "CATEGORY": info.get("category", ""),
        "OUTPUT_NODE": bool(info.get("output_node")), "DESCRIPTION": info.get("description", ""),
        "__module__": "nodes", "__nh_class_type__": name,
        "__nh_params__": tuple(described.get("params") or _order(info)),
        function: HostNode._run_on_host,
    })
    for key in ("RETURN_TYPES", "RETURN_NAMES", "OUTPUT_IS_LIST"):
        if isinstance(attrs[key], list):
            attrs[key] = tuple(attrs[key])
    return type(name, (HostNode,), attrs)


def _order(info: dict[str, Any]) -> list[str]:
    order = info.get("input_order") or {}
    return [*order.get("required", []), *order.get("optional", [])]


def core_node(name: str) -> type | None:
    """The class for node ``name``: the local SaveImage/PreviewImage (and the NOISE classes packs build,
    isolate/noise_objects.py), the host's node, a stand-in for a ComfyUI core node the host lacks; None when it
    is none of these."""
    cls = _classes.get(name)
    if cls is not None:
        return cls
    from isolate import noise_objects, save_nodes

    local = save_nodes.LOCAL.get(name) or noise_objects.CLASSES.get(name)
    if local is not None:
        return local
    described = (host_info().get("nodes") or {}).get(name)
    if described is not None:
        cls = make_class(name, described)
    elif name in COMFY_CORE_NODES:
        cls = stand_in(f"nodes.{name}")
    else:
        return None
    _classes[name] = cls
    return cls


def mappings() -> tuple[dict[str, type], dict[str, str]]:
    """``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS``: every node the host knows."""
    from isolate import save_nodes

    nodes = host_info().get("nodes") or {}
    classes: dict[str, type] = {}
    for name in [*nodes, *save_nodes.LOCAL]:
        cls = core_node(name)
        if cls is not None:
            classes[name] = cls
    names = {n: d["info"].get("display_name", n) for n, d in nodes.items()}
    return classes, names
