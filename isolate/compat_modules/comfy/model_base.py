"""ComfyUI's ``comfy.model_base`` in a pack child: ``ModelType``, and ``BaseModel``, the class of
``ModelPatcher.model``; here a description of the host's model (its weights stay on the host)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ModelType(Enum):
    EPS = 1
    V_PREDICTION = 2
    V_PREDICTION_EDM = 3
    STABLE_CASCADE = 4
    EDM = 5
    FLOW = 6
    V_PREDICTION_CONTINUOUS = 7
    FLUX = 8
    IMG_TO_IMG = 9


_PREDICTIONS = {"eps": ModelType.EPS, "v": ModelType.V_PREDICTION, "v_prediction": ModelType.V_PREDICTION}
_FORMATS = {"sdxl": "SDXL", "sdxl_refiner": "SDXL", "sd3": "SD3", "flux": "Flux"}


class BaseModel:
    """What a pack reads from ``model.model``: ``latent_format``, ``model_type``, ``model_sampling``."""

    latent_format: Any = None
    model_type: ModelType = ModelType.EPS
    model_sampling: Any = None

    def get_dtype(self) -> Any:
        import torch

        return torch.float32


class HostModel(BaseModel):
    """``ModelPatcher.model`` for a model the host holds."""

    def __init__(self, patcher: Any) -> None:
        self._patcher = patcher

    def _info(self) -> dict[str, Any]:
        return self._patcher.info()

    @property
    def latent_format(self) -> Any:  # type: ignore[override]
        from comfy import latent_formats

        name = _FORMATS.get(self._info().get("family", ""), "SD15")
        return getattr(latent_formats, name)()

    @property
    def model_type(self) -> ModelType:  # type: ignore[override]
        return _PREDICTIONS.get(self._info().get("prediction", "eps"), ModelType.EPS)

    @property
    def model_sampling(self) -> Any:  # type: ignore[override]
        from comfy.model_sampling import DiscreteSchedule

        return DiscreteSchedule(self._info()["sigmas"], self._info().get("prediction", "eps"), owner=self._patcher)

    @property
    def diffusion_model(self) -> Any:
        from isolate.standins import stand_in

        return stand_in("comfy.model_base.BaseModel.diffusion_model")

    def get_dtype(self) -> Any:
        return self._patcher.model_dtype()

    @property
    def model_config(self) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(latent_format=self.latent_format, unet_config={},
                               sampling_settings={})


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
