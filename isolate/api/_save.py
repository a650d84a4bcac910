"""Saving node results as files: ``SavedResult``, ``SavedImages``/``SavedAudios`` and the save helpers.

Files go under the running node's ``isolate.paths.current_paths()`` (output or temp folder), named
ComfyUI-style (``prefix_00001_.png``). torch, numpy and PIL are imported inside the functions.
"""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path
from typing import Any

from isolate.api._base import FolderType
from isolate.api._node import _UIOutput
from isolate.paths import claim_image_name, current_paths, save_image_path


class SavedResult(dict):
    """One saved file as the UI lists it: ``{"filename", "subfolder", "type"}``."""

    def __init__(self, filename: str, subfolder: str, type: FolderType | str) -> None:
        super().__init__(filename=filename, subfolder=subfolder, type=FolderType(type).value)

    @property
    def filename(self) -> str:
        return self["filename"]

    @property
    def subfolder(self) -> str:
        return self["subfolder"]

    @property
    def type(self) -> FolderType:
        return FolderType(self["type"])


class SavedImages(_UIOutput):
    """One or more saved images, maybe animated: ``{"images": [...], "animated": [True]}``."""

    def __init__(self, results: list[SavedResult], is_animated: bool = False) -> None:
        self.results = results
        self.is_animated = is_animated

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"images": [dict(r) for r in self.results]}
        if self.is_animated:
            data["animated"] = [True]
        return data


class SavedAudios(_UIOutput):
    """One or more saved audio files: ``{"audio": [...]}``."""

    def __init__(self, results: list[SavedResult]) -> None:
        self.results = results

    def as_dict(self) -> dict[str, Any]:
        return {"audio": [dict(r) for r in self.results]}


def folder_for(folder_type: FolderType | str) -> Path:
    """The current run's folder for ``output`` or ``temp`` (an ``input_dir`` when the paths carry one)."""
    paths = current_paths()
    kind = FolderType(folder_type)
    if kind is FolderType.output:
        return paths.output_dir
    if kind is FolderType.temp:
        return paths.temp_dir
    input_dir = getattr(paths, "input_dir", None)
    if input_dir is None:
        raise ValueError("nodehost saves node results to the output or temp folder, not the input folder")
    return Path(input_dir)


def save_target(prefix: str, folder_type: FolderType | str, width: int = 0, height: int = 0,
                ) -> tuple[Path, str, str, int]:
    """(folder, file stem, subfolder, first counter) for ``prefix``; the folder exists afterwards."""
    folder, stem, subfolder, counter = save_image_path(prefix, folder_for(folder_type), width, height)
    folder.mkdir(parents=True, exist_ok=True)
    return folder, stem, subfolder, counter


def _hidden(cls: Any) -> Any:
    return getattr(cls, "hidden", None) if cls is not None else None


class ImageSaveHelper:
    """Saving IMAGE batches ([B, H, W, C] floats in 0..1) as PNG / animated PNG / animated WebP."""

    @staticmethod
    def _convert_tensor_to_pil(image_tensor: Any) -> Any:
        import numpy as np
        from PIL import Image

        return Image.fromarray(np.clip(255.0 * image_tensor.cpu().numpy(), 0, 255).astype(np.uint8))

    @staticmethod
    def _create_png_metadata(cls: Any) -> Any:
        """PNG text chunks: ``prompt`` and one per extra_pnginfo key, from ``cls.hidden``."""
        from PIL.PngImagePlugin import PngInfo

        hidden = _hidden(cls)
        if hidden is None:
            return None
        meta = PngInfo()
        if hidden.prompt is not None:
            meta.add_text("prompt", json.dumps(hidden.prompt))
        for key, value in (hidden.extra_pnginfo or {}).items():
            meta.add_text(key, json.dumps(value))
        return meta

    @staticmethod
    def _create_animated_png_metadata(cls: Any) -> Any:
        """The same values as ``comf`` chunks after the image data (text chunks would land in every frame)."""
        from PIL.PngImagePlugin import PngInfo

        hidden = _hidden(cls)
        if hidden is None:
            return None
        meta = PngInfo()
        items = [("prompt", hidden.prompt)] if hidden.prompt is not None else []
        items += list((hidden.extra_pnginfo or {}).items())
        for key, value in items:
            meta.add(b"comf", key.encode("latin-1") + b"\0" + json.dumps(value).encode("latin-1"), after_idat=True)
        return meta

    @staticmethod
    def _create_webp_metadata(pil_image: Any, cls: Any) -> Any:
        """EXIF for WebP: ``prompt:<json>`` in Model (0x0110), extra_pnginfo keys from Make (0x010F) down."""
        exif = pil_image.getexif()
        hidden = _hidden(cls)
        if hidden is None:
            return exif
        if hidden.prompt is not None:
            exif[0x0110] = f"prompt:{json.dumps(hidden.prompt)}"
        for tag, (key, value) in zip(range(0x010F, 0, -1), (hidden.extra_pnginfo or {}).items(), strict=False):
            exif[tag] = f"{key}:{json.dumps(value)}"
        return exif

    @staticmethod
    def save_images(images: Any, filename_prefix: str, folder_type: FolderType | str, cls: Any,
                    compress_level: int = 4) -> list[SavedResult]:
        """Each image as ``{stem}_{counter:05}_.png`` (``%batch_num%`` in the prefix becomes the index)."""
        folder, stem, subfolder, counter = save_target(filename_prefix, folder_type, images[0].shape[1],
                                                       images[0].shape[0])
        meta = ImageSaveHelper._create_png_metadata(cls)
        results = []
        for batch_number, image in enumerate(images):
            name, counter = claim_image_name(folder, stem.replace('%batch_num%', str(batch_number)), counter)
            ImageSaveHelper._convert_tensor_to_pil(image).save(folder / name, pnginfo=meta,
                                                               compress_level=compress_level)
            results.append(SavedResult(name, subfolder, folder_type))
            counter += 1
        return results

    @staticmethod
    def get_save_images_ui(images: Any, filename_prefix: str, cls: Any, compress_level: int = 4) -> SavedImages:
        return SavedImages(ImageSaveHelper.save_images(images, filename_prefix, FolderType.output, cls,
                                                       compress_level))

    @staticmethod
    def save_animated_png(images: Any, filename_prefix: str, folder_type: FolderType | str, cls: Any, fps: float,
                          compress_level: int) -> SavedResult:
        folder, stem, subfolder, counter = save_target(filename_prefix, folder_type, images[0].shape[1],
                                                       images[0].shape[0])
        frames = [ImageSaveHelper._convert_tensor_to_pil(i) for i in images]
        name = f"{stem}_{counter:05}_.png"
        frames[0].save(folder / name, pnginfo=ImageSaveHelper._create_animated_png_metadata(cls),
                       compress_level=compress_level, save_all=True, duration=int(1000.0 / fps),
                       append_images=frames[1:])
        return SavedResult(name, subfolder, folder_type)

    @staticmethod
    def get_save_animated_png_ui(images: Any, filename_prefix: str, cls: Any, fps: float,
                                 compress_level: int) -> SavedImages:
        result = ImageSaveHelper.save_animated_png(images, filename_prefix, FolderType.output, cls, fps,
                                                   compress_level)
        return SavedImages([result], is_animated=len(images) > 1)

    @staticmethod
    def save_animated_webp(images: Any, filename_prefix: str, folder_type: FolderType | str, cls: Any, fps: float,
                           lossless: bool, quality: int, method: int) -> SavedResult:
        folder, stem, subfolder, counter = save_target(filename_prefix, folder_type, images[0].shape[1],
                                                       images[0].shape[0])
        frames = [ImageSaveHelper._convert_tensor_to_pil(i) for i in images]
        name = f"{stem}_{counter:05}_.webp"
        frames[0].save(folder / name, save_all=True, duration=int(1000.0 / fps), append_images=frames[1:],
                       exif=ImageSaveHelper._create_webp_metadata(frames[0], cls), lossless=lossless,
                       quality=quality, method=method)
        return SavedResult(name, subfolder, folder_type)

    @staticmethod
    def get_save_animated_webp_ui(images: Any, filename_prefix: str, cls: Any, fps: float, lossless: bool,
                                  quality: int, method: int) -> SavedImages:
        result = ImageSaveHelper.save_animated_webp(images, filename_prefix, FolderType.output, cls, fps, lossless,
                                                    quality, method)
        return SavedImages([result], is_animated=len(images) > 1)


class AudioSaveHelper:
    """Saving AUDIO (``{"waveform": [B, C, T] floats in -1..1, "sample_rate": int}``).

    nodehost writes 16-bit PCM WAV with the standard library; ComfyUI's FLAC/MP3/Opus need PyAV, which
    nodehost does not ship, so those formats raise."""

    _FORMATS = frozenset({"wav"})

    @staticmethod
    def save_audio(audio: dict[str, Any], filename_prefix: str, folder_type: FolderType | str, cls: Any,
                   format: str = "wav", quality: str = "128k") -> list[SavedResult]:
        if format not in AudioSaveHelper._FORMATS:
            raise NotImplementedError(f"saving {format!r} audio needs PyAV, which nodehost does not ship; "
                                      "use format='wav'")
        import numpy as np

        folder, stem, subfolder, counter = save_target(filename_prefix, folder_type)
        counter = max(counter, _next_counter(folder, stem))
        rate = int(audio["sample_rate"])
        results = []
        for batch_number, waveform in enumerate(audio["waveform"].cpu()):
            name = f"{stem.replace('%batch_num%', str(batch_number))}_{counter:05}.{format}"
            pcm = (np.clip(waveform.float().numpy(), -1.0, 1.0) * 32767.0).astype("<i2")
            with wave.open(str(folder / name), "wb") as out:
                out.setnchannels(pcm.shape[0])
                out.setsampwidth(2)
                out.setframerate(rate)
                out.writeframes(pcm.T.tobytes())
            results.append(SavedResult(name, subfolder, folder_type))
            counter += 1
        return results

    @staticmethod
    def get_save_audio_ui(audio: dict[str, Any], filename_prefix: str, cls: Any, format: str = "wav",
                          quality: str = "128k") -> SavedAudios:
        return SavedAudios(AudioSaveHelper.save_audio(audio, filename_prefix, FolderType.output, cls, format,
                                                      quality))


def _next_counter(folder: Path, stem: str) -> int:
    """One past the highest ``{stem}_NNNNN.ext`` in ``folder`` (audio names have no trailing underscore)."""
    pattern = re.compile(re.escape(stem) + r"_(\d+)\.")
    found = [int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))]
    return max(found, default=0) + 1
