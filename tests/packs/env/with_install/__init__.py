import os

with open(os.path.join(os.path.dirname(__file__), "installed.txt")) as f:  # written by install.py
    PREFIX = f.read()


class InstalledPrefix:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        return {"ui": {"prefix": [PREFIX]}, "result": (PREFIX,)}


NODE_CLASS_MAPPINGS = {"InstalledPrefix": InstalledPrefix}
