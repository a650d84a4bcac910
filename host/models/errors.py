"""Typed errors of model files: each names the file it is about (the node error shows the message)."""

from __future__ import annotations

from pathlib import Path


class ModelFileError(Exception):
    """A model file cannot be used. ``path`` is the file; the message names it."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class ModelFileNotFound(ModelFileError, FileNotFoundError):
    """The file does not exist."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "no such model file")


class CorruptModelFile(ModelFileError):
    """The file is truncated or not in the format its extension says."""


class UnsafePickle(ModelFileError):
    """A pickled checkpoint carries code (``torch.load(weights_only=True)`` refused it)."""


class UnknownArchitecture(ModelFileError):
    """The state dict's keys match no known model family."""


class WeightMismatch(ModelFileError):
    """A tensor's shape differs from the architecture built for it, or keys are missing."""


class LoraMismatch(ModelFileError):
    """A LoRA does not fit the model it is applied to (made for another model family)."""


class LoraKeysUnmatched(LoraMismatch):
    """None of a LoRA's keys (or none meant for one part, the UNet or the text encoder) name a weight of the
    model."""


class LoraShapeMismatch(LoraMismatch):
    """A LoRA key names a weight of the model but its delta has another shape."""


class UnsupportedTextEncoder(ModelFileError):
    """A text-encoder file, or a loader ``type``, nodehost cannot build a text encoder for."""


__all__ = ["CorruptModelFile", "LoraKeysUnmatched", "LoraMismatch", "LoraShapeMismatch", "ModelFileError",
           "ModelFileNotFound", "UnknownArchitecture", "UnsafePickle", "UnsupportedTextEncoder",
           "WeightMismatch"]
