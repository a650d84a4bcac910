"""Our v3 node API's ``io`` namespace (``comfy_api.latest.io``, COMPAT §5.2).

Written from the documented behaviour: ``ComfyNode`` with ``define_schema``/``execute`` classmethods, an
``io.Schema`` of typed inputs and outputs, ``io.Hidden`` values and ``io.NodeOutput`` results. The pieces live
in ``_base`` (Input/Output bases, hidden values, ``comfytype``), ``_types`` (the types), ``_dynamic``
(MultiType, MatchType, Autogrow, DynamicCombo, DynamicSlot) and ``_node`` (Schema, NodeOutput, ComfyNode).
"""

from __future__ import annotations

from isolate.api._base import (
    ComfyTypeI,
    ComfyTypeIO,
    ControlAfterGenerate,
    Custom,
    FolderType,
    Hidden,
    HiddenHolder,
    Input,
    NumberDisplay,
    Output,
    RemoteOptions,
    UploadType,
    WidgetInput,
    _ComfyType,
    comfytype,
    input_dict_v1,
    prune_dict,
)
from isolate.api._dynamic import Autogrow, DynamicCombo, DynamicInput, DynamicOutput, DynamicSlot, MatchType, MultiType
from isolate.api._node import ComfyNode, NodeOutput, Schema, _UIOutput
from isolate.api._types import (
    BBOX,
    SEGS,
    SVG,
    Accumulation,
    AnyType,
    Audio,
    AudioEncoder,
    AudioEncoderOutput,
    Boolean,
    Clip,
    ClipVision,
    ClipVisionOutput,
    Combo,
    Conditioning,
    ControlNet,
    FaceAnalysis,
    Float,
    FlowControl,
    Gligen,
    Guider,
    HookKeyframes,
    Hooks,
    Image,
    Int,
    Latent,
    LatentOperation,
    LatentUpscaleModel,
    Load3D,
    Load3DAnimation,
    Load3DCamera,
    LoraModel,
    LossMap,
    Mask,
    Mesh,
    Model,
    ModelPatch,
    MultiCombo,
    Noise,
    Photomaker,
    Point,
    Sampler,
    Sigmas,
    String,
    StyleModel,
    TimestepsRange,
    Tracks,
    UpscaleModel,
    Vae,
    Video,
    Voxel,
    WanCameraEmbedding,
    Webcam,
)

__all__ = [
    "BBOX", "SEGS", "SVG", "Accumulation", "AnyType", "Audio", "AudioEncoder", "AudioEncoderOutput", "Autogrow",
    "Boolean", "Clip", "ClipVision", "ClipVisionOutput", "Combo", "ComfyNode", "ComfyTypeI", "ComfyTypeIO",
    "Conditioning", "ControlAfterGenerate", "ControlNet", "Custom", "DynamicCombo", "DynamicInput",
    "DynamicOutput", "DynamicSlot", "FaceAnalysis", "Float", "FlowControl", "FolderType", "Gligen", "Guider",
    "Hidden", "HiddenHolder", "HookKeyframes", "Hooks", "Image", "Input", "Int", "Latent", "LatentOperation",
    "LatentUpscaleModel", "Load3D", "Load3DAnimation", "Load3DCamera", "LoraModel", "LossMap", "Mask",
    "MatchType", "Mesh", "Model", "ModelPatch", "MultiCombo", "MultiType", "NodeOutput", "Noise", "NumberDisplay",
    "Output", "Photomaker", "Point", "RemoteOptions", "Sampler", "Schema", "Sigmas", "String", "StyleModel",
    "TimestepsRange", "Tracks", "UploadType", "UpscaleModel", "Vae", "Video", "Voxel", "WanCameraEmbedding",
    "Webcam", "WidgetInput", "comfytype", "input_dict_v1", "prune_dict", "_ComfyType", "_UIOutput",
]
