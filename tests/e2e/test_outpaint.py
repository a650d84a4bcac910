"""An outpainting graph on a small random SD1.5: ImagePadForOutpaint -> VAEEncodeForInpaint -> KSampler -> VAEDecode
-> ImageCompositeMasked (the original pasted back) -> SaveImage, with the mask previewed."""

from __future__ import annotations

import numpy as np
from e2e.helpers import CHECKPOINT, Host, saved_pixels


def outpaint_prompt() -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a wide landscape", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x336699}},
        "5": {"class_type": "ImagePadForOutpaint", "inputs": {
            "image": ["4", 0], "left": 32, "top": 0, "right": 0, "bottom": 16, "feathering": 8}},
        "6": {"class_type": "VAEEncodeForInpaint", "inputs": {
            "pixels": ["5", 0], "vae": ["1", 2], "mask": ["5", 1], "grow_mask_by": 6}},
        "7": {"class_type": "KSampler", "inputs": {
            "seed": 3, "steps": 2, "cfg": 5.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["6", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["7", 0], "vae": ["1", 2]}},
        "9": {"class_type": "ImageCompositeMasked", "inputs": {
            "destination": ["8", 0], "source": ["4", 0], "x": 32, "y": 0, "resize_source": False}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": "outpaint"}},
        "11": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "original"}},
        "12": {"class_type": "MaskToImage", "inputs": {"mask": ["5", 1]}},
        "13": {"class_type": "SaveImage", "inputs": {"images": ["12", 0], "filename_prefix": "mask"}},
    }


def test_outpaint_graph(host: Host) -> None:
    result = host.run(outpaint_prompt())
    assert result.status == "success", result.error
    out = saved_pixels(host.output, result, "10")
    original = saved_pixels(host.output, result, "11")
    mask = saved_pixels(host.output, result, "13")[..., 0]
    assert out.shape == (80, 96, 3) and mask.shape == (80, 96)
    assert np.array_equal(out[:64, 32:], original)  # the original pasted back over the generated pixels
    assert np.all(mask[:, :32] == 255) and np.all(mask[64:] == 255)  # the padding is masked
    assert mask[32, 40] == 0 and mask[32, 33] == mask[63, 50] == int(255 * (7 / 8) ** 2)  # feathered, d = 1
