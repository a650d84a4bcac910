"""ComfyUI's ``comfy.comfy_types.node_typing``: type names and typing helpers for v1 node classes.

``IO`` is a str enum of the built-in socket types. Its comparison follows ComfyUI's: ``IO.ANY`` (``"*"``) is
never unequal to anything, and comma unions compare as sets (``IO.NUMBER != "INT"`` is False), which is how
the engine's ``!=`` type check treats them. The TypedDicts and ``ComfyNodeABC`` are for type hints only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, Literal, NotRequired, TypedDict


class StrEnum(str, Enum):
    """A str enum whose ``str()`` is its value."""

    def __str__(self) -> str:
        return self.value


class IO(StrEnum):
    """Socket data types of node inputs and outputs."""

    STRING = "STRING"
    IMAGE = "IMAGE"
    MASK = "MASK"
    LATENT = "LATENT"
    BOOLEAN = "BOOLEAN"
    INT = "INT"
    FLOAT = "FLOAT"
    COMBO = "COMBO"
    CONDITIONING = "CONDITIONING"
    SAMPLER = "SAMPLER"
    SIGMAS = "SIGMAS"
    GUIDER = "GUIDER"
    NOISE = "NOISE"
    CLIP = "CLIP"
    CONTROL_NET = "CONTROL_NET"
    VAE = "VAE"
    MODEL = "MODEL"
    LORA_MODEL = "LORA_MODEL"
    LOSS_MAP = "LOSS_MAP"
    CLIP_VISION = "CLIP_VISION"
    CLIP_VISION_OUTPUT = "CLIP_VISION_OUTPUT"
    STYLE_MODEL = "STYLE_MODEL"
    GLIGEN = "GLIGEN"
    UPSCALE_MODEL = "UPSCALE_MODEL"
    LATENT_UPSCALE_MODEL = "LATENT_UPSCALE_MODEL"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    WEBCAM = "WEBCAM"
    POINT = "POINT"
    FACE_ANALYSIS = "FACE_ANALYSIS"
    BBOX = "BBOX"
    SEGS = "SEGS"
    HOOKS = "HOOKS"
    HOOK_KEYFRAMES = "HOOK_KEYFRAMES"
    TIMESTEPS_RANGE = "TIMESTEPS_RANGE"
    LATENT_OPERATION = "LATENT_OPERATION"
    FLOW_CONTROL = "FLOW_CONTROL"
    ACCUMULATION = "ACCUMULATION"
    PHOTOMAKER = "PHOTOMAKER"
    MODEL_PATCH = "MODEL_PATCH"
    AUDIO_ENCODER = "AUDIO_ENCODER"
    AUDIO_ENCODER_OUTPUT = "AUDIO_ENCODER_OUTPUT"
    SVG = "SVG"
    MESH = "MESH"
    VOXEL = "VOXEL"

    ANY = "*"
    """Matches every type (use sparingly: reroutes and link colours cannot follow it)."""
    NUMBER = "FLOAT,INT"
    """A float or an int."""
    PRIMITIVE = "STRING,FLOAT,INT,BOOLEAN"
    """A string, float, int or bool."""

    def __ne__(self, value: object) -> bool:
        if self == "*" or value == "*":
            return False
        if not isinstance(value, str):
            return True
        mine, theirs = frozenset(self.split(",")), frozenset(value.split(","))
        return not (mine <= theirs or theirs <= mine)


class RemoteInputOptions(TypedDict):
    route: str
    refresh_button: bool
    control_after_refresh: Literal["first", "last"]
    timeout: int
    max_retries: int
    refresh: int


class MultiSelectOptions(TypedDict):
    placeholder: NotRequired[str]
    chip: NotRequired[bool]


class InputTypeOptions(TypedDict):
    """The options dict of one input (``("INT", {...})``); only min/max/options/lazy/rawLink reach the backend."""

    default: NotRequired[bool | str | float | int | list | tuple]
    defaultInput: NotRequired[bool]
    forceInput: NotRequired[bool]
    lazy: NotRequired[bool]
    rawLink: NotRequired[bool]
    tooltip: NotRequired[str]
    socketless: NotRequired[bool]
    widgetType: NotRequired[str]
    min: NotRequired[float]
    max: NotRequired[float]
    step: NotRequired[float]
    round: NotRequired[float]
    label_on: NotRequired[str]
    label_off: NotRequired[str]
    multiline: NotRequired[bool]
    placeholder: NotRequired[str]
    dynamicPrompts: NotRequired[bool]
    image_upload: NotRequired[bool]
    image_folder: NotRequired[Literal["input", "output", "temp"]]
    remote: NotRequired[RemoteInputOptions]
    control_after_generate: NotRequired[bool]
    options: NotRequired[list[str | int | float]]
    multi_select: NotRequired[MultiSelectOptions]
    advanced: NotRequired[bool]


class HiddenInputTypeDict(TypedDict):
    """The ``hidden`` section of INPUT_TYPES: name -> which value the engine passes."""

    node_id: NotRequired[Literal["UNIQUE_ID"]]
    unique_id: NotRequired[Literal["UNIQUE_ID"]]
    prompt: NotRequired[Literal["PROMPT"]]
    extra_pnginfo: NotRequired[Literal["EXTRA_PNGINFO"]]
    dynprompt: NotRequired[Literal["DYNPROMPT"]]
    auth_token_comfy_org: NotRequired[Literal["AUTH_TOKEN_COMFY_ORG"]]
    api_key_comfy_org: NotRequired[Literal["API_KEY_COMFY_ORG"]]


class InputTypeDict(TypedDict):
    """What ``INPUT_TYPES()`` returns."""

    required: NotRequired[dict[str, tuple[IO, InputTypeOptions]]]
    optional: NotRequired[dict[str, tuple[IO, InputTypeOptions]]]
    hidden: NotRequired[HiddenInputTypeDict]


class ComfyNodeABC(ABC):
    """Optional base of a v1 node class, naming the attributes the engine reads (COMPAT_COMFYUI.md §5.1)."""

    DESCRIPTION: str
    CATEGORY: str
    EXPERIMENTAL: bool
    DEPRECATED: bool
    API_NODE: bool | None

    @classmethod
    @abstractmethod
    def INPUT_TYPES(cls) -> InputTypeDict:  # noqa: N802  (ComfyUI's name)
        """The node's inputs: ``{"required": {...}, "optional": {...}, "hidden": {...}}``."""
        return {"required": {}}

    OUTPUT_NODE: bool
    INPUT_IS_LIST: bool
    OUTPUT_IS_LIST: tuple[bool, ...]
    RETURN_TYPES: tuple[IO, ...]
    RETURN_NAMES: tuple[str, ...]
    OUTPUT_TOOLTIPS: tuple[str, ...]
    FUNCTION: str


class CheckLazyMixin:
    """A ``check_lazy_status`` that asks for every lazy input not evaluated yet (given as None)."""

    def check_lazy_status(self, **kwargs: Any) -> list[str]:
        return [name for name, value in kwargs.items() if value is None]


class FileLocator(TypedDict):
    """Where a file of the UI lives: ``{"filename", "subfolder", "type"}``."""

    filename: str
    subfolder: str
    type: Literal["input", "output", "temp"]
