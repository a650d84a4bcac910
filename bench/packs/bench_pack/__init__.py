"""The pack bench/isolation.py starts: a trivial node, and torch imported at load as most packs do."""

import torch  # noqa: F401


class BenchInc:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        return (v + 1,)


class BenchOut:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        return {"ui": {"v": [v]}}


NODE_CLASS_MAPPINGS = {"BenchInc": BenchInc, "BenchOut": BenchOut}
