"""Our v3 ``ui`` namespace (``comfy_api.latest.ui``, COMPAT §5.2): what a node shows in the frontend.

Each class is a ``_UIOutput`` given as ``io.NodeOutput(ui=...)``; ``as_dict()`` is what history and the
``executed`` message carry. Previews are written into the running node's temp folder
(``isolate.paths.current_paths().temp_dir``). torch, numpy and PIL are imported inside the functions.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from isolate.api._base import FolderType
from isolate.api._node import _UIOutput
from isolate.api._save import (
    AudioSaveHelper,
    ImageSaveHelper,
    SavedAudios,
    SavedImages,
    SavedResult,
    folder_for,
)

__all__ = [
    "AudioSaveHelper", "ImageSaveHelper", "PreviewAudio", "PreviewImage", "PreviewMask", "PreviewText",
    "PreviewUI3D", "PreviewVideo", "SavedAudios", "SavedImages", "SavedResult",
]


def _temp_prefix() -> str:
    return "ComfyUI_temp_" + "".join(random.choice(string.ascii_lowercase) for _ in range(5))


class PreviewImage(_UIOutput):
    """Saves an IMAGE batch as PNGs (compress level 1) into the temp folder:
    ``{"images": [{filename, subfolder, type: "temp"}], "animated": [animated]}``."""

    def __init__(self, image: Any, animated: bool = False, cls: Any = None, **kwargs: Any) -> None:
        self.values = ImageSaveHelper.save_images(image, _temp_prefix(), FolderType.temp, cls, compress_level=1)
        self.animated = animated

    def as_dict(self) -> dict[str, Any]:
        return {"images": [dict(v) for v in self.values], "animated": [self.animated]}


class PreviewMask(PreviewImage):
    """A MASK batch ([B, H, W]) previewed as grey images."""

    def __init__(self, mask: Any, animated: bool = False, cls: Any = None, **kwargs: Any) -> None:
        grey = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).movedim(1, -1).expand(-1, -1, -1, 3)
        super().__init__(grey, animated, cls, **kwargs)


class PreviewAudio(_UIOutput):
    """Saves AUDIO into the temp folder (WAV: see ``AudioSaveHelper``): ``{"audio": [...]}``."""

    def __init__(self, audio: dict[str, Any], cls: Any = None, **kwargs: Any) -> None:
        self.values = AudioSaveHelper.save_audio(audio, _temp_prefix(), FolderType.temp, cls)

    def as_dict(self) -> dict[str, Any]:
        return {"audio": [dict(v) for v in self.values]}


class PreviewVideo(_UIOutput):
    """Already saved video files: ``{"images": values, "animated": [True]}``."""

    def __init__(self, values: list[SavedResult | dict[str, Any]], **kwargs: Any) -> None:
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        return {"images": [dict(v) for v in self.values], "animated": [True]}


class PreviewUI3D(_UIOutput):
    """A 3D model for the Load3D widgets: ``{"result": [model_file, camera_info, bg_image_path]}``; a
    ``bg_image`` (IMAGE) is saved into the temp folder and referenced as ``temp/<file>``."""

    def __init__(self, model_file: Any, camera_info: Any, **kwargs: Any) -> None:
        self.model_file = model_file
        self.camera_info = camera_info
        self.bg_image_path: str | None = None
        bg_image = kwargs.get("bg_image")
        if bg_image is not None:
            folder = folder_for(FolderType.temp)
            folder.mkdir(parents=True, exist_ok=True)
            name = f"bg_{uuid.uuid4().hex}.png"
            ImageSaveHelper._convert_tensor_to_pil(bg_image[0]).save(folder / name, compress_level=1)
            self.bg_image_path = f"temp/{name}"

    def as_dict(self) -> dict[str, Any]:
        return {"result": [self.model_file, self.camera_info, self.bg_image_path]}


class PreviewText(_UIOutput):
    """Text shown on the node: ``{"text": [value]}``."""

    def __init__(self, value: str, **kwargs: Any) -> None:
        self.value = value

    def as_dict(self) -> dict[str, Any]:
        return {"text": [self.value]}
