# ComfyUI's base packages, imported without being declared (as real packs do)
import importlib

MODULES = ["torchsde", "einops", "transformers", "tokenizers", "sentencepiece", "safetensors", "aiohttp", "yarl",
           "yaml", "PIL", "numpy", "scipy", "tqdm", "psutil", "alembic", "sqlalchemy", "av", "kornia", "pydantic",
           "pydantic_settings"]
LOADED = {name: importlib.import_module(name) for name in MODULES}


class BaseVersions:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        import einops

        return {"ui": {"einops": [einops.__version__]}, "result": (str(len(LOADED)),)}


NODE_CLASS_MAPPINGS = {"BaseVersions": BaseVersions}
