"""ComfyUI's latent formats: channels, dimensions, scale factor (and shift), Latent2RGB preview factors and
the TAESD decoder name per model family. Pure data, in the child; ``process_in``/``process_out`` go between
VAE latents and the model's scaled space."""

from __future__ import annotations

from typing import Any

SD1_RGB = [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]
SDXL_RGB = [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.2188]]


class LatentFormat:
    scale_factor = 1.0
    shift_factor = 0.0
    latent_channels = 4
    latent_dimensions = 2
    latent_rgb_factors: Any = None
    latent_rgb_factors_bias: Any = None
    latent_rgb_factors_reshape: Any = None
    taesd_decoder_name: str | None = None

    def process_in(self, latent: Any) -> Any:
        return (latent - self.shift_factor) * self.scale_factor

    def process_out(self, latent: Any) -> Any:
        return latent / self.scale_factor + self.shift_factor


def _format(name: str, channels: int = 4, scale: float = 1.0, shift: float = 0.0, dims: int = 2, rgb: Any = None,
            bias: Any = None, taesd: str | None = None) -> type[LatentFormat]:
    return type(name, (LatentFormat,), {"latent_channels": channels, "scale_factor": scale, "shift_factor": shift,
                                        "latent_dimensions": dims, "latent_rgb_factors": rgb,
                                        "latent_rgb_factors_bias": bias, "taesd_decoder_name": taesd,
                                        "__module__": __name__})


SD15 = _format("SD15", 4, 0.18215, rgb=SD1_RGB, taesd="taesd_decoder")
SDXL = _format("SDXL", 4, 0.13025, rgb=SDXL_RGB, bias=[0.1084, -0.0175, -0.0011], taesd="taesdxl_decoder")
SDXL_Playground_2_5 = _format("SDXL_Playground_2_5", 4, 0.5)
SD_X4 = _format("SD_X4", 4, 0.08333)
SC_Prior = _format("SC_Prior", 16, 1.0)
SC_B = _format("SC_B", 4, 1.0 / 0.43)
SD3 = _format("SD3", 16, 1.5305, 0.0609, taesd="taesd3_decoder")
StableAudio1 = _format("StableAudio1", 64, 1.0, dims=1)
Flux = _format("Flux", 16, 0.3611, 0.1159, taesd="taef1_decoder")
Flux2 = _format("Flux2", 128, 1.0)
Mochi = _format("Mochi", 12, 1.0, dims=3)
LTXV = _format("LTXV", 128, 1.0, dims=3)
HunyuanVideo = _format("HunyuanVideo", 16, 0.476986, dims=3)
Cosmos1CV8x8x8 = _format("Cosmos1CV8x8x8", 16, 1.0, dims=3)
Wan21 = _format("Wan21", 16, 1.0, dims=3)
Wan22 = _format("Wan22", 48, 1.0, dims=3)
HunyuanImage21 = _format("HunyuanImage21", 64, 0.75289, dims=2)
Hunyuan3Dv2 = _format("Hunyuan3Dv2", 64, 0.9990943042622529, dims=1)
ACEAudio = _format("ACEAudio", 8, 1.0, dims=2)
ChromaRadiance = _format("ChromaRadiance", 3, 1.0)


def __getattr__(name: str) -> Any:
    from isolate.standins import missing_attribute

    return missing_attribute(__name__, name)
