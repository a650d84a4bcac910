# declares torchvision; one node module needs it, the other does not (the pack loads what it can, as many do)
NODE_CLASS_MAPPINGS = {}
try:
    import torchvision  # noqa: F401

    class VisionNode:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = ("STRING",)
        FUNCTION = "run"

        def run(self):
            return ("vision",)

    NODE_CLASS_MAPPINGS["VisionNode"] = VisionNode
except ImportError as exc:
    print(f"wants_torchvision: VisionNode not loaded: {exc}")


class PlainNode:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self):
        return ("plain",)


NODE_CLASS_MAPPINGS["PlainNode"] = PlainNode
