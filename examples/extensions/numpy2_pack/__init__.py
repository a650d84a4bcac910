"""Example pack: its own numpy (numpy>=2) beside the host's torch, in its own environment."""

import numpy


class Numpy2Info:
    """Reports the numpy this pack sees, and round-trips an IMAGE through numpy and the host's torch."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE", "STRING")
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "examples"

    def run(self, image):
        import torch

        array = image.numpy() * 0.5  # numpy 2.x working on the host's torch tensor
        return {"ui": {"text": [numpy.__version__]}, "result": (torch.from_numpy(array), numpy.__version__)}


NODE_CLASS_MAPPINGS = {"Numpy2Info": Numpy2Info}
NODE_DISPLAY_NAME_MAPPINGS = {"Numpy2Info": "numpy 2.x info"}
