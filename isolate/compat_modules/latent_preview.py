"""ComfyUI's ``latent_preview`` in a pack child: ``prepare_callback`` gives a sampling callback that reports
progress (the host makes the previews of its own sampling); ``get_previewer`` is None (no previewer here)."""

from __future__ import annotations

from typing import Any

MAX_PREVIEW_RESOLUTION = 512


class LatentPreviewer:
    def decode_latent_to_preview(self, x0: Any) -> Any:
        raise NotImplementedError

    def decode_latent_to_preview_image(self, preview_format: str, x0: Any) -> Any:
        return ("JPEG", self.decode_latent_to_preview(x0), MAX_PREVIEW_RESOLUTION)


class Latent2RGBPreviewer(LatentPreviewer):
    """Latent -> RGB by the latent format's factors (pure torch)."""

    def __init__(self, latent_rgb_factors: Any, latent_rgb_factors_bias: Any = None,
                 latent_rgb_factors_reshape: Any = None) -> None:
        import torch

        self.latent_rgb_factors = torch.tensor(latent_rgb_factors, device="cpu").transpose(0, 1)
        self.latent_rgb_factors_bias = (torch.tensor(latent_rgb_factors_bias, device="cpu")
                                        if latent_rgb_factors_bias is not None else None)

    def decode_latent_to_preview(self, x0: Any) -> Any:
        import torch
        from PIL import Image

        factors = self.latent_rgb_factors.to(dtype=x0.dtype, device=x0.device)
        bias = self.latent_rgb_factors_bias
        bias = bias.to(dtype=x0.dtype, device=x0.device) if bias is not None else None
        img = torch.nn.functional.linear(x0[0].movedim(0, -1), factors, bias=bias)
        img = ((img + 1.0) / 2.0).clamp(0, 1)
        return Image.fromarray((img * 255).to(torch.uint8).cpu().numpy())


def get_previewer(device: Any, latent_format: Any) -> LatentPreviewer | None:
    return None


def prepare_callback(model: Any, steps: int, x0_output_dict: dict[str, Any] | None = None) -> Any:
    """``callback(step, x0, x, total_steps)`` as ComfyUI's samplers call it: progress per step."""
    from comfy.utils import ProgressBar

    pbar = ProgressBar(steps)

    def callback(step: int, x0: Any, x: Any, total_steps: int) -> None:
        if x0_output_dict is not None:
            x0_output_dict["x0"] = x0
        pbar.update_absolute(step + 1, total_steps)

    return callback


def set_preview_method(override: Any = None) -> None:
    return None


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
