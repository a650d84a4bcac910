import einops  # the pack pins its own einops (requirements.txt): it must see that one, not the host's


class PinnedEinops:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        return {"ui": {"einops": [einops.__version__]}, "result": (einops.__version__,)}


NODE_CLASS_MAPPINGS = {"PinnedEinops": PinnedEinops}
