"""Latent nodes from ComfyUI's ``nodes``: EmptyLatentImage, LatentUpscale, LatentUpscaleBy, SetLatentNoiseMask.

LATENT is a dict ``{"samples": Tensor[B, 4, H/8, W/8], "noise_mask"?, "batch_index"?}``; nodes copy the dict and
replace what they change. torch is imported inside the bodies.
"""

from __future__ import annotations

from typing import Any

from builtin_nodes.image_ops import resize

MAX_RESOLUTION = 16384
LATENT_UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]
CROP_METHODS = ["disabled", "center"]


def _slerp(a: Any, b: Any, t: Any) -> Any:
    """Spherical interpolation between rows of ``a`` and ``b`` ([N, C]) by ``t`` ([N, 1]): directions are
    slerped, lengths interpolated linearly; (nearly) parallel rows are interpolated linearly."""
    import torch

    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    dot = (ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    safe = so.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1.0 - t) * omega) / torch.where(safe, so, 1.0), 1.0 - t)
    wb = torch.where(safe, torch.sin(t * omega) / torch.where(safe, so, 1.0), t)
    direction = wa * ua + wb * ub
    return direction * (na * (1.0 - t) + nb * t)


def _axis_weights(size_in: int, size_out: int) -> tuple[Any, Any, Any]:
    """Bilinear sampling positions along one axis (align_corners False): lower index, upper index, fraction."""
    import torch

    pos = ((torch.arange(size_out, dtype=torch.float64) + 0.5) * size_in / size_out - 0.5).clamp(0, size_in - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=size_in - 1)
    return lo, hi, (pos - lo).float()


def _bislerp_axis(samples: Any, size_out: int, dim: int) -> Any:
    """Resize [B, C, H, W] along ``dim`` (2 or 3) by slerping the channel vectors of neighbouring pixels."""
    x = samples.movedim(dim, -1)  # [B, C, other, n]
    lo, hi, frac = _axis_weights(x.shape[-1], size_out)
    a, b = x[..., lo], x[..., hi]  # [B, C, other, out]
    flat = lambda t: t.movedim(1, -1).reshape(-1, t.shape[1])  # noqa: E731  [N, C]
    t = frac.to(samples.dtype).expand(a.shape[0], a.shape[2], size_out).reshape(-1, 1)
    out = _slerp(flat(a), flat(b), t).reshape(a.shape[0], a.shape[2], size_out, a.shape[1]).movedim(-1, 1)
    return out.movedim(-1, dim)


def bislerp(samples: Any, width: int, height: int) -> Any:
    """[B, C, H, W] resized to height x width, rows then columns, each by slerp between neighbours."""
    out = samples.float()
    if out.shape[3] != width:
        out = _bislerp_axis(out, width, 3)
    if out.shape[2] != height:
        out = _bislerp_axis(out, height, 2)
    return out.to(samples.dtype)


def upscale_latent(samples: Any, width: int, height: int, method: str, crop: str = "disabled") -> Any:
    """Resize [B, C, h, w] latents to height x width (latent pixels) by ``method``."""
    if method not in LATENT_UPSCALE_METHODS:
        raise ValueError(f"unknown upscale method {method!r}; expected one of {LATENT_UPSCALE_METHODS}")
    if method != "bislerp":
        return resize(samples, width, height, method, crop)
    if crop == "center":
        from builtin_nodes.image_ops import _center_crop

        samples = _center_crop(samples, width, height)
    return bislerp(samples, width, height)


class EmptyLatentImage:
    DESCRIPTION = "Create a new batch of empty latent images to be denoised via sampling."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "width": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8,
                              "tooltip": "The width of the latent images in pixels."}),
            "height": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8,
                               "tooltip": "The height of the latent images in pixels."}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096,
                                   "tooltip": "The number of latent images in the batch."}),
        }}

    RETURN_TYPES = ("LATENT",)
    OUTPUT_TOOLTIPS = ("The empty latent image batch.",)
    FUNCTION = "generate"
    CATEGORY = "latent"

    def generate(self, width: int, height: int, batch_size: int = 1) -> tuple[dict[str, Any]]:
        import torch

        return ({"samples": torch.zeros([batch_size, 4, height // 8, width // 8])},)


class LatentUpscale:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "samples": ("LATENT",), "upscale_method": (list(LATENT_UPSCALE_METHODS),),
            "width": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 8}),
            "height": ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 8}),
            "crop": (list(CROP_METHODS),)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "upscale"
    CATEGORY = "latent"

    def upscale(self, samples: dict[str, Any], upscale_method: str, width: int, height: int,
                crop: str) -> tuple[dict[str, Any]]:
        """A size of 0 keeps the aspect ratio from the other; every size is at least 64 pixels."""
        if width == 0 and height == 0:
            return (samples,)
        lat = samples["samples"]
        if width == 0:
            height = max(64, height)
            width = max(64, round(lat.shape[-1] * height / lat.shape[-2]))
        elif height == 0:
            width = max(64, width)
            height = max(64, round(lat.shape[-2] * width / lat.shape[-1]))
        else:
            width, height = max(64, width), max(64, height)
        out = samples.copy()
        out["samples"] = upscale_latent(lat, width // 8, height // 8, upscale_method, crop)
        return (out,)


class LatentUpscaleBy:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "samples": ("LATENT",), "upscale_method": (list(LATENT_UPSCALE_METHODS),),
            "scale_by": ("FLOAT", {"default": 1.5, "min": 0.01, "max": 8.0, "step": 0.01})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "upscale"
    CATEGORY = "latent"

    def upscale(self, samples: dict[str, Any], upscale_method: str, scale_by: float) -> tuple[dict[str, Any]]:
        lat = samples["samples"]
        out = samples.copy()
        out["samples"] = upscale_latent(lat, round(lat.shape[-1] * scale_by), round(lat.shape[-2] * scale_by),
                                        upscale_method)
        return (out,)


class SetLatentNoiseMask:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"samples": ("LATENT",), "mask": ("MASK",)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "set_mask"
    CATEGORY = "latent/inpaint"

    def set_mask(self, samples: dict[str, Any], mask: Any) -> tuple[dict[str, Any]]:
        out = samples.copy()
        out["noise_mask"] = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        return (out,)


V1_MODULE = "nodes"
V1_CLASSES = {"EmptyLatentImage": EmptyLatentImage, "LatentUpscale": LatentUpscale,
              "LatentUpscaleBy": LatentUpscaleBy, "SetLatentNoiseMask": SetLatentNoiseMask}
V1_DISPLAY_NAMES = {"EmptyLatentImage": "Empty Latent Image", "LatentUpscale": "Upscale Latent",
                    "LatentUpscaleBy": "Upscale Latent By", "SetLatentNoiseMask": "Set Latent Noise Mask"}
