"""A pack written the way ComfyUI_Comfyroll_CustomNodes' loaders are: INPUT_TYPES lists the output folder
(``os.listdir(folder_paths.get_output_directory())``) when the pack registers, before anything was saved."""

import os

import folder_paths


class LoadFromOutputCrStyle:
    """Offers the files already in the output folder: the folder must exist when the pack registers."""

    @classmethod
    def INPUT_TYPES(cls):
        files = sorted(os.listdir(folder_paths.get_output_directory()))
        return {"required": {"file": (files or ["(none)"],)}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "load"
    CATEGORY = "comfyroll_style"

    def load(self, file):
        return (os.path.join(folder_paths.get_output_directory(), file),)


NODE_CLASS_MAPPINGS = {"LoadFromOutputCrStyle": LoadFromOutputCrStyle}
