"""VAE nodes from ComfyUI's ``nodes``: VAEDecode, VAEEncode, VAEDecodeTiled, VAEEncodeTiled, VAEEncodeForInpaint,
InpaintModelConditioning, over the VAE value ``host.models.loading`` returns (``decode``/``encode`` and their
tiled forms, on the LATENT's raw ``samples``)."""

from __future__ import annotations

import math
from typing import Any

from builtin_nodes.node_env import manager
from isolate.compat_modules.node_helpers import conditioning_set_values

_TEMPORAL_DECODE = "Only used for video VAEs: Amount of frames to decode at a time."
_TEMPORAL_ENCODE = "Only used for video VAEs: Amount of frames to encode at a time."
_TEMPORAL_OVERLAP = "Only used for video VAEs: Amount of frames to overlap."


def _with_vae(vae: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    models = manager()
    models.use(vae, device=models.plan.vae_device)
    try:
        return fn(*args, **kwargs)
    finally:
        models.done(vae)


def crop_to_8(pixels: Any, *others: Any) -> tuple[Any, ...]:
    """Centre-crop [B, H, W, C] pixels (and masks [B, 1, H, W] alongside) to multiples of 8."""
    h, w = (pixels.shape[1] // 8) * 8, (pixels.shape[2] // 8) * 8
    if (h, w) == tuple(pixels.shape[1:3]):
        return (pixels, *others)
    dy, dx = (pixels.shape[1] % 8) // 2, (pixels.shape[2] % 8) // 2
    return (pixels[:, dy:dy + h, dx:dx + w, :], *(m[:, :, dy:dy + h, dx:dx + w] for m in others))


def _flatten_frames(images: Any) -> Any:
    return images.reshape(-1, *images.shape[-3:]) if images.dim() == 5 else images


class VAEDecode:
    DESCRIPTION = "Decodes latent images back into pixel space images."

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"samples": ("LATENT", {"tooltip": "The latent to be decoded."}),
                             "vae": ("VAE", {"tooltip": "The VAE model used for decoding the latent."})}}

    RETURN_TYPES = ("IMAGE",)
    OUTPUT_TOOLTIPS = ("The decoded image.",)
    FUNCTION = "decode"
    CATEGORY = "latent"

    def decode(self, vae: Any, samples: dict[str, Any]) -> tuple[Any]:
        return (_flatten_frames(_with_vae(vae, vae.decode, samples["samples"])),)


class VAEDecodeTiled:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "samples": ("LATENT",), "vae": ("VAE",),
            "tile_size": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 32}),
            "overlap": ("INT", {"default": 64, "min": 0, "max": 4096, "step": 32}),
            "temporal_size": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 4, "tooltip": _TEMPORAL_DECODE}),
            "temporal_overlap": ("INT", {"default": 8, "min": 4, "max": 4096, "step": 4,
                                         "tooltip": _TEMPORAL_OVERLAP})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "decode"
    CATEGORY = "_for_testing"

    def decode(self, vae: Any, samples: dict[str, Any], tile_size: int, overlap: int = 64, temporal_size: int = 64,
               temporal_overlap: int = 8) -> tuple[Any]:
        """Tiles of ``tile_size`` pixels overlapping by ``overlap`` (at most a quarter of the tile), in latent
        pixels for the VAE."""
        if tile_size < overlap * 4:
            overlap = tile_size // 4
        tile, over = tile_size // 8, overlap // 8
        images = _with_vae(vae, vae.decode_tiled, samples["samples"], tile_x=tile, tile_y=tile, overlap=over)
        return (_flatten_frames(images),)


class VAEEncode:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"
    CATEGORY = "latent"

    def encode(self, vae: Any, pixels: Any) -> tuple[dict[str, Any]]:
        (pixels,) = crop_to_8(pixels)
        return ({"samples": _with_vae(vae, vae.encode, pixels[:, :, :, :3])},)


class VAEEncodeTiled:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "pixels": ("IMAGE",), "vae": ("VAE",),
            "tile_size": ("INT", {"default": 512, "min": 64, "max": 4096, "step": 64}),
            "overlap": ("INT", {"default": 64, "min": 0, "max": 4096, "step": 32}),
            "temporal_size": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 4, "tooltip": _TEMPORAL_ENCODE}),
            "temporal_overlap": ("INT", {"default": 8, "min": 4, "max": 4096, "step": 4,
                                         "tooltip": _TEMPORAL_OVERLAP})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"
    CATEGORY = "_for_testing"

    def encode(self, vae: Any, pixels: Any, tile_size: int, overlap: int, temporal_size: int = 64,
               temporal_overlap: int = 8) -> tuple[dict[str, Any]]:
        (pixels,) = crop_to_8(pixels)
        t = _with_vae(vae, vae.encode_tiled, pixels[:, :, :, :3], tile_x=tile_size, tile_y=tile_size,
                      overlap=overlap)
        return ({"samples": t},)


def _mask_to_pixels(mask: Any, pixels: Any) -> Any:
    """A MASK [B?, h, w] as [B, 1, H, W] at the pixels' size (bilinear)."""
    import torch

    m = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    return torch.nn.functional.interpolate(m, size=(pixels.shape[1], pixels.shape[2]), mode="bilinear")


def _grey_out(pixels: Any, mask: Any) -> Any:
    """Masked pixels (mask rounded to 1) set to mid grey 0.5, the rest kept."""
    keep = (1.0 - mask.round()).squeeze(1)[..., None]  # [B, H, W, 1]
    return (pixels[..., :3] - 0.5) * keep + 0.5


class VAEEncodeForInpaint:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"pixels": ("IMAGE",), "vae": ("VAE",), "mask": ("MASK",),
                             "grow_mask_by": ("INT", {"default": 6, "min": 0, "max": 64, "step": 1})}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "encode"
    CATEGORY = "latent/inpaint"

    def encode(self, vae: Any, pixels: Any, mask: Any, grow_mask_by: int = 6) -> tuple[dict[str, Any]]:
        """The masked area greyed out before encoding; the noise mask is the mask grown by ``grow_mask_by``
        pixels (a box filter, clamped to 1)."""
        import torch

        pixels, mask = crop_to_8(pixels, _mask_to_pixels(mask, pixels))
        if grow_mask_by == 0:
            grown = mask
        else:
            kernel = torch.ones((1, 1, grow_mask_by, grow_mask_by), dtype=mask.dtype)
            pad = math.ceil((grow_mask_by - 1) / 2)
            grown = torch.clamp(torch.nn.functional.conv2d(mask.round(), kernel, padding=pad), 0, 1)
        h, w = pixels.shape[1], pixels.shape[2]
        t = _with_vae(vae, vae.encode, _grey_out(pixels, mask))
        return ({"samples": t, "noise_mask": grown[:, :, :h, :w].round()},)


class InpaintModelConditioning:
    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "positive": ("CONDITIONING",), "negative": ("CONDITIONING",), "vae": ("VAE",), "pixels": ("IMAGE",),
            "mask": ("MASK",),
            "noise_mask": ("BOOLEAN", {"default": True, "tooltip": "Add a noise mask to the latent so sampling "
                                       "will only happen within the mask. Might improve results or completely "
                                       "break things depending on the model."})}}

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING", "LATENT")
    RETURN_NAMES = ("positive", "negative", "latent")
    FUNCTION = "encode"
    CATEGORY = "conditioning/inpaint"

    def encode(self, positive: Any, negative: Any, pixels: Any, vae: Any, mask: Any,
               noise_mask: bool = True) -> tuple[Any, Any, dict[str, Any]]:
        """The conditionings get the greyed-out image's latent and the mask (``concat_latent_image``,
        ``concat_mask``, for inpainting models); the latent is the original image's."""
        pixels, mask = crop_to_8(pixels, _mask_to_pixels(mask, pixels))
        concat_latent = _with_vae(vae, vae.encode, _grey_out(pixels, mask))
        orig_latent = _with_vae(vae, vae.encode, pixels[..., :3])
        latent: dict[str, Any] = {"samples": orig_latent}
        if noise_mask:
            latent["noise_mask"] = mask
        values = {"concat_latent_image": concat_latent, "concat_mask": mask}
        return (conditioning_set_values(positive, values), conditioning_set_values(negative, values), latent)


V1_MODULE = "nodes"
V1_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    VAEDecode, VAEEncode, VAEDecodeTiled, VAEEncodeTiled, VAEEncodeForInpaint, InpaintModelConditioning)}
V1_DISPLAY_NAMES = {"VAEDecode": "VAE Decode", "VAEEncode": "VAE Encode", "VAEDecodeTiled": "VAE Decode (Tiled)",
                    "VAEEncodeTiled": "VAE Encode (Tiled)", "VAEEncodeForInpaint": "VAE Encode (for Inpainting)"}
