"""ComfyUI's NOISE objects that packs build themselves (``comfy_extras.nodes_custom_sampler.Noise_RandomNoise``,
``Noise_EmptyNoise``; ComfyUI_essentials' sampler nodes do, then hand them to SamplerCustomAdvanced).

In the child they are what ComfyUI's are: a ``seed`` and ``generate_noise(input_latent)``, computed here (the
initial noise is one CPU ``randn`` from the seed, or per ``batch_index`` draws, as ``comfy.sample.prepare_noise``).
Passed to a host node they cross as the host's own NOISE for the same seed (isolate/host_made.py: made by the
host's RandomNoise / DisableNoise node), so the host's sampler samples exactly what ComfyUI's would.
"""

from __future__ import annotations

from typing import Any

from isolate.host_made import HostMade


class Noise_RandomNoise(HostMade):  # noqa: N801  (ComfyUI's name)
    """Noise from ``seed``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def host_node(self) -> str:
        return "RandomNoise"

    def host_inputs(self) -> dict[str, Any]:
        return {"noise_seed": self.seed}

    def generate_noise(self, input_latent: dict[str, Any]) -> Any:
        from comfy.sample import prepare_noise

        return prepare_noise(input_latent["samples"], self.seed, input_latent.get("batch_index"))


class Noise_EmptyNoise(HostMade):  # noqa: N801
    """All-zero noise (sampling starts from the latent itself); its seed is 0."""

    def __init__(self) -> None:
        self.seed = 0

    def host_node(self) -> str:
        return "DisableNoise"

    def generate_noise(self, input_latent: dict[str, Any]) -> Any:
        import torch

        samples = input_latent["samples"]
        return torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")


#: the non-node classes of ComfyUI's core modules the child provides itself, by name
CLASSES: dict[str, type] = {"Noise_RandomNoise": Noise_RandomNoise, "Noise_EmptyNoise": Noise_EmptyNoise}
