"""A pack written the way ComfyUI_Comfyroll_CustomNodes' nodes are: its loaders' INPUT_TYPES list the output
folder (``os.listdir(folder_paths.get_output_directory())``) when the pack registers, before anything was saved;
a node returns fewer values than it declares outputs; list outputs are numpy scalars."""

import os

import folder_paths
import numpy as np


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


class JoinCrStyle:
    """Like CR Text Concatenate: two outputs declared (the text and a help link), one value returned."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("STRING", {"default": ""}), "b": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("STRING", "STRING")
    RETURN_NAMES = ("STRING", "show_help")
    FUNCTION = "join"
    CATEGORY = "comfyroll_style"

    def join(self, a, b):
        return (a + b,)


class RangeCrStyle:
    """Like CR Float Range List: the values are numpy floats."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"start": ("FLOAT", {"default": 0.0}), "stop": ("FLOAT", {"default": 1.0}),
                             "steps": ("INT", {"default": 3})}}

    RETURN_TYPES = ("FLOAT", "INT")
    OUTPUT_IS_LIST = (True, False)
    FUNCTION = "make"
    CATEGORY = "comfyroll_style"

    def make(self, start, stop, steps):
        values = list(np.linspace(start, stop, steps))
        return (values, np.int64(len(values)))


NODE_CLASS_MAPPINGS = {"LoadFromOutputCrStyle": LoadFromOutputCrStyle, "JoinCrStyle": JoinCrStyle,
                       "RangeCrStyle": RangeCrStyle}
