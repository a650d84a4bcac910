"""ComfyUI's ``comfy.model_sampling`` in a pack child: the prediction types and a discrete schedule over a
model's sigmas (pure torch): ``sigma_min``, ``sigma_max``, ``timestep``, ``sigma``, ``percent_to_sigma``,
``calculate_input``, ``calculate_denoised``, ``noise_scaling``."""

from __future__ import annotations

from typing import Any


class EPS:
    def calculate_input(self, sigma: Any, noise: Any) -> Any:
        sigma = sigma.view(sigma.shape[:1] + (1,) * (noise.ndim - 1))
        return noise / (sigma ** 2 + 1.0) ** 0.5

    def calculate_denoised(self, sigma: Any, model_output: Any, model_input: Any) -> Any:
        sigma = sigma.view(sigma.shape[:1] + (1,) * (model_output.ndim - 1))
        return model_input - model_output * sigma

    def noise_scaling(self, sigma: Any, noise: Any, latent_image: Any, max_denoise: bool = False) -> Any:
        if max_denoise:
            return noise * (sigma ** 2 + 1.0) ** 0.5 + latent_image
        return noise * sigma + latent_image

    def inverse_noise_scaling(self, sigma: Any, latent: Any) -> Any:
        return latent


class V_PREDICTION(EPS):  # noqa: N801  (ComfyUI's name)
    def calculate_denoised(self, sigma: Any, model_output: Any, model_input: Any) -> Any:
        sigma = sigma.view(sigma.shape[:1] + (1,) * (model_output.ndim - 1))
        return (model_input * 1.0 / (sigma ** 2 + 1.0) - model_output * sigma / (sigma ** 2 + 1.0) ** 0.5)


class ModelSamplingDiscrete:
    """A table of sigmas (one per training timestep), log-linear interpolation between them."""

    def __init__(self, sigmas: Any) -> None:
        import torch

        self.sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
        self.log_sigmas = self.sigmas.log()

    @property
    def sigma_min(self) -> Any:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> Any:
        return self.sigmas[-1]

    def timestep(self, sigma: Any) -> Any:
        log_sigma = sigma.log()
        dists = log_sigma.to(self.log_sigmas.device) - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape).to(sigma.device)

    def sigma(self, timestep: Any) -> Any:
        import torch

        t = torch.clamp(timestep.float().to(self.log_sigmas.device), min=0, max=len(self.sigmas) - 1)
        low = t.floor().long()
        high = t.ceil().long()
        w = t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]
        return log_sigma.exp().to(timestep.device)

    def percent_to_sigma(self, percent: float) -> float:
        import torch

        if percent <= 0.0:
            return 999999999.9
        if percent >= 1.0:
            return 0.0
        return float(self.sigma(torch.tensor((1.0 - percent) * 999.0)))


class DiscreteSchedule(ModelSamplingDiscrete):
    """The model sampling of a MODEL the host holds (``owner``: its ModelPatcher proxy)."""

    def __init__(self, sigmas: Any, prediction: str = "eps", owner: Any = None) -> None:
        super().__init__(sigmas)
        self.owner = owner
        self._kind = V_PREDICTION() if prediction.startswith("v") else EPS()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._kind, name)


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
