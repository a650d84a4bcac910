"""A VAE loader written the way ComfyUI-KJNodes' VAELoaderKJ is: the vae folder listed in INPUT_TYPES, the file
read with ``comfy.utils.load_torch_file(path, return_metadata=True)``, the state dict inspected, then
``comfy.sd.VAE(sd=sd, device=..., dtype=..., metadata=...)`` built from it."""

import folder_paths
import torch
from comfy import model_management
from comfy.sd import VAE
from comfy.utils import load_torch_file


class VAELoaderKJStyle:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"vae_name": (folder_paths.get_filename_list("vae"),),
                             "device": (["main_device", "cpu"],),
                             "weight_dtype": (["bf16", "fp16", "fp32"],),
                             "rename_a_key": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ("VAE",)
    FUNCTION = "load_vae"
    CATEGORY = "kjvae_style"

    def load_vae(self, vae_name, device, weight_dtype, rename_a_key):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[weight_dtype]
        device = model_management.get_torch_device() if device == "main_device" else torch.device("cpu")
        sd, metadata = load_torch_file(folder_paths.get_full_path_or_raise("vae", vae_name), return_metadata=True)
        is_audio_vae = "vocoder.conv_post.weight" in sd  # the pack reads its keys before building the VAE
        assert not is_audio_vae
        if rename_a_key:  # weights the pack changed: the host cannot load them from the file
            sd["renamed." + next(iter(sd))] = sd.pop(next(iter(sd)))
        vae = VAE(sd=sd, device=device, dtype=dtype, metadata=metadata)
        vae.throw_exception_if_invalid()
        return (vae,)


NODE_CLASS_MAPPINGS = {"VAELoaderKJStyle": VAELoaderKJStyle}
