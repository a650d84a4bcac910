"""``Input``, ``InputImpl`` and ``Types`` of ``comfy_api.latest``: the value types nodes receive and return.

Kept to what nodehost can honestly back: ``Input.Image``/``Input.Mask`` are ``torch.Tensor`` (resolved when
read, so importing this module does not import torch), Audio/Latent are TypedDicts, Video is an abstract
interface with one in-memory implementation. Encoding video needs PyAV, which nodehost does not ship.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NotRequired, TypedDict


class _TorchTensor:
    """Reads as ``torch.Tensor`` (torch imported on first read)."""

    def __get__(self, obj: Any, owner: type | None = None) -> type:
        import torch

        return torch.Tensor


class AudioInput(TypedDict):
    waveform: Any  # torch.Tensor [B, C, T]
    sample_rate: int


class LatentInput(TypedDict):
    samples: Any  # torch.Tensor [B, C, H, W]
    noise_mask: NotRequired[Any]
    batch_index: NotRequired[list[int]]
    type: NotRequired[str]


class VideoCodec(str, enum.Enum):
    AUTO = "auto"
    H264 = "h264"

    @classmethod
    def as_input(cls) -> list[str]:
        return [m.value for m in cls]


class VideoContainer(str, enum.Enum):
    AUTO = "auto"
    MP4 = "mp4"

    @classmethod
    def as_input(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def get_extension(cls, value: VideoContainer | str) -> str:
        return "mp4" if cls(value) in (cls.AUTO, cls.MP4) else ""


@dataclass
class VideoComponents:
    """A video as frames ([T, H, W, C] IMAGE), a frame rate and optional audio / metadata."""

    images: Any
    frame_rate: Fraction
    audio: AudioInput | None = None
    metadata: dict[str, Any] | None = None


class VideoInput(ABC):
    """A VIDEO value."""

    @abstractmethod
    def get_components(self) -> VideoComponents: ...

    @abstractmethod
    def save_to(self, path: str, format: VideoContainer = VideoContainer.AUTO, codec: VideoCodec = VideoCodec.AUTO,
                metadata: dict[str, Any] | None = None) -> None: ...

    def get_dimensions(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        images = self.get_components().images
        return int(images.shape[2]), int(images.shape[1])

    def get_duration(self) -> float:
        """Seconds: frame count over frame rate."""
        parts = self.get_components()
        return float(parts.images.shape[0] / parts.frame_rate)


class VideoFromComponents(VideoInput):
    """A video held in memory as its components."""

    def __init__(self, components: VideoComponents) -> None:
        self._components = components

    def get_components(self) -> VideoComponents:
        return self._components

    def save_to(self, path: str, format: VideoContainer = VideoContainer.AUTO, codec: VideoCodec = VideoCodec.AUTO,
                metadata: dict[str, Any] | None = None) -> None:
        raise NotImplementedError("encoding video needs PyAV, which nodehost does not ship")


class VOXEL:
    """A voxel grid: ``data`` a tensor."""

    def __init__(self, data: Any) -> None:
        self.data = data


class MESH:
    """A mesh: ``vertices`` and ``faces`` tensors."""

    def __init__(self, vertices: Any, faces: Any) -> None:
        self.vertices = vertices
        self.faces = faces


class Input:
    """The types of node input values."""

    Image = _TorchTensor()
    Mask = _TorchTensor()
    Audio = AudioInput
    Latent = LatentInput
    Video = VideoInput


class InputImpl:
    """Implementations of the input interfaces."""

    VideoFromComponents = VideoFromComponents


class Types:
    """Helper value types."""

    VideoCodec = VideoCodec
    VideoContainer = VideoContainer
    VideoComponents = VideoComponents
    MESH = MESH
    VOXEL = VOXEL
