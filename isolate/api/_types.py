"""The v3 types (COMPAT §5.2): widget types with their own options, and the plain socket types."""

from __future__ import annotations

import enum
from typing import Any

from isolate.api._base import (
    ComfyTypeI,
    ComfyTypeIO,
    ControlAfterGenerate,
    FolderType,
    NumberDisplay,
    Output,
    RemoteOptions,
    UploadType,
    WidgetInput,
    comfytype,
    enum_value,
    prune_dict,
)


@comfytype(io_type="BOOLEAN")
class Boolean(ComfyTypeIO):
    Type = bool

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: bool | None = None,
                     label_on: str | None = None, label_off: str | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.label_on = label_on
            self.label_off = label_off

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({"label_on": self.label_on, "label_off": self.label_off})


@comfytype(io_type="INT")
class Int(ComfyTypeIO):
    Type = int

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: int | None = None,
                     min: int | None = None, max: int | None = None, step: int | None = None,
                     control_after_generate: bool | ControlAfterGenerate | None = None,
                     display_mode: NumberDisplay | str | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.min, self.max, self.step = min, max, step
            self.control_after_generate = control_after_generate
            self.display_mode = display_mode

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({
                "min": self.min, "max": self.max, "step": self.step,
                "control_after_generate": enum_value(self.control_after_generate),
                "display": enum_value(self.display_mode)})


@comfytype(io_type="FLOAT")
class Float(ComfyTypeIO):
    Type = float

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: float | None = None,
                     min: float | None = None, max: float | None = None, step: float | None = None,
                     round: float | bool | None = None, display_mode: NumberDisplay | str | None = None,
                     gradient_stops: list[dict[str, Any]] | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.min, self.max, self.step, self.round = min, max, step, round
            self.display_mode = display_mode
            self.gradient_stops = gradient_stops

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({
                "min": self.min, "max": self.max, "step": self.step, "round": self.round,
                "display": enum_value(self.display_mode), "gradient_stops": self.gradient_stops})


@comfytype(io_type="STRING")
class String(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, multiline: bool | None = False,
                     placeholder: str | None = None, default: str | None = None,
                     dynamic_prompts: bool | None = None, socketless: bool | None = None,
                     force_input: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link, advanced)
            self.multiline = multiline
            self.placeholder = placeholder
            self.dynamic_prompts = dynamic_prompts

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({"multiline": self.multiline, "placeholder": self.placeholder,
                                                   "dynamicPrompts": self.dynamic_prompts})


def _option_values(options: Any) -> list[Any] | None:
    if isinstance(options, type) and issubclass(options, enum.Enum):
        return [m.value for m in options]
    return list(options) if options is not None else None


@comfytype(io_type="COMBO")
class Combo(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        """A dropdown; ``options`` is a list or an Enum class (its values)."""

        multiselect = False

        def __init__(self, id: str, options: list[Any] | type[enum.Enum] | None = None,
                     display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: Any = None,
                     control_after_generate: bool | ControlAfterGenerate | None = None,
                     upload: UploadType | str | None = None, image_folder: FolderType | str | None = None,
                     remote: RemoteOptions | None = None, socketless: bool | None = None,
                     extra_dict: dict[str, Any] | None = None, raw_link: bool | None = None,
                     advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, enum_value(default), socketless, None, None,
                             extra_dict, raw_link, advanced)
            self.options = _option_values(options)
            self.control_after_generate = control_after_generate
            self.upload = upload
            self.image_folder = image_folder
            self.remote = remote

        def as_dict(self) -> dict[str, Any]:
            upload = {enum_value(self.upload): True} if self.upload is not None else {}
            return super().as_dict() | prune_dict({
                "multiselect": self.multiselect, "options": self.options,
                "control_after_generate": enum_value(self.control_after_generate), **upload,
                "image_folder": enum_value(self.image_folder),
                "remote": self.remote.as_dict() if self.remote else None})

    class Output(Output):
        def __init__(self, id: str | None = None, display_name: str | None = None, options: list[Any] | None = None,
                     tooltip: str | None = None, is_output_list: bool = False) -> None:
            super().__init__(id, display_name, tooltip, is_output_list)
            self.options = list(options) if options is not None else []


@comfytype(io_type="COMBO")
class MultiCombo(ComfyTypeI):
    """A dropdown where several options may be chosen; the value is a list."""

    Type = list[str]

    class Input(Combo.Input):
        multiselect = True

        def __init__(self, id: str, options: list[Any] | type[enum.Enum], display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None,
                     default: list[Any] | None = None, placeholder: str | None = None, chip: bool | None = None,
                     control_after_generate: bool | ControlAfterGenerate | None = None,
                     socketless: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, options, display_name, optional, tooltip, lazy, default, control_after_generate,
                             socketless=socketless, extra_dict=extra_dict, raw_link=raw_link, advanced=advanced)
            self.placeholder = placeholder
            self.chip = chip

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | {"multi_select": prune_dict({"placeholder": self.placeholder,
                                                                    "chip": self.chip})}


@comfytype(io_type="WEBCAM")
class Webcam(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, lazy: bool | None = None, default: str | None = None,
                     socketless: bool | None = None, extra_dict: dict[str, Any] | None = None,
                     raw_link: bool | None = None, advanced: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, None,
                             extra_dict, raw_link, advanced)


@comfytype(io_type="BOUNDING_BOX")
class BoundingBox(ComfyTypeIO):
    """A box ``{"x", "y", "width", "height"}`` in pixels (a list of them per frame where a node says so); as an
    input a widget without a socket unless ``socketless=False`` or ``force_input``."""

    Type = dict

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False,
                     tooltip: str | None = None, socketless: bool = True, default: dict[str, int] | None = None,
                     component: str | None = None, force_input: bool | None = None,
                     advanced: bool | None = None) -> None:
            if default is None:
                default = {"x": 0, "y": 0, "width": 512, "height": 512}
            super().__init__(id, display_name, optional, tooltip, None, default, socketless, None, force_input,
                             None, None, advanced)
            self.component = component

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | prune_dict({"component": self.component})


def _plain(name: str, io_type: str, doc: str | None = None) -> type[ComfyTypeIO]:
    """A socket-only type: the default Input and Output bound to ``io_type``."""
    return comfytype(io_type)(type(name, (ComfyTypeIO,), {"__module__": "isolate.api.io", "__doc__": doc}))


Image = _plain("Image", "IMAGE", "Images: a float tensor [B, H, W, C] in 0..1.")
Mask = _plain("Mask", "MASK", "Masks: a float tensor [B, H, W] in 0..1.")
Latent = _plain("Latent", "LATENT", "Latents: a dict with 'samples' (and optionally 'noise_mask', 'batch_index').")
Conditioning = _plain("Conditioning", "CONDITIONING", "A list of [tensor, dict] pairs.")
Sampler = _plain("Sampler", "SAMPLER")
Sigmas = _plain("Sigmas", "SIGMAS")
Noise = _plain("Noise", "NOISE")
Guider = _plain("Guider", "GUIDER")
Clip = _plain("Clip", "CLIP")
ControlNet = _plain("ControlNet", "CONTROL_NET")
Vae = _plain("Vae", "VAE")
Model = _plain("Model", "MODEL")
ModelPatch = _plain("ModelPatch", "MODEL_PATCH")
ClipVision = _plain("ClipVision", "CLIP_VISION")
ClipVisionOutput = _plain("ClipVisionOutput", "CLIP_VISION_OUTPUT")
StyleModel = _plain("StyleModel", "STYLE_MODEL")
Gligen = _plain("Gligen", "GLIGEN")
UpscaleModel = _plain("UpscaleModel", "UPSCALE_MODEL")
LatentUpscaleModel = _plain("LatentUpscaleModel", "LATENT_UPSCALE_MODEL")
Audio = _plain("Audio", "AUDIO", "Audio: a dict with 'waveform' [B, C, T] and 'sample_rate'.")
Video = _plain("Video", "VIDEO")
SVG = _plain("SVG", "SVG")
LoraModel = _plain("LoraModel", "LORA_MODEL")
LossMap = _plain("LossMap", "LOSS_MAP")
Voxel = _plain("Voxel", "VOXEL")
Mesh = _plain("Mesh", "MESH")
Hooks = _plain("Hooks", "HOOKS")
HookKeyframes = _plain("HookKeyframes", "HOOK_KEYFRAMES")
TimestepsRange = _plain("TimestepsRange", "TIMESTEPS_RANGE", "A (start, end) range between 0.0 and 1.0.")
LatentOperation = _plain("LatentOperation", "LATENT_OPERATION", "A callable latent -> latent.")
FlowControl = _plain("FlowControl", "FLOW_CONTROL")
Accumulation = _plain("Accumulation", "ACCUMULATION")
Load3DCamera = _plain("Load3DCamera", "LOAD3D_CAMERA")
Load3D = _plain("Load3D", "LOAD_3D")
Load3DAnimation = _plain("Load3DAnimation", "LOAD_3D_ANIMATION")
Photomaker = _plain("Photomaker", "PHOTOMAKER")
Point = _plain("Point", "POINT")
FaceAnalysis = _plain("FaceAnalysis", "FACE_ANALYSIS")
BBOX = _plain("BBOX", "BBOX")
SEGS = _plain("SEGS", "SEGS")
AnyType = _plain("AnyType", "*", "The wildcard type: connects to anything.")
AudioEncoder = _plain("AudioEncoder", "AUDIO_ENCODER")
AudioEncoderOutput = _plain("AudioEncoderOutput", "AUDIO_ENCODER_OUTPUT")
Tracks = _plain("Tracks", "TRACKS", "Tracks: a dict with 'track_path' and 'track_visibility' tensors.")
WanCameraEmbedding = _plain("WanCameraEmbedding", "WAN_CAMERA_EMBEDDING")
