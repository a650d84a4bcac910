# installs what it misses at import time, as some packs do (the wheel path comes from a file the test writes)
import os
import subprocess
import sys

try:
    import importtool
except ImportError:
    with open(os.path.join(os.path.dirname(__file__), "wheel_path.txt")) as f:
        wheel = f.read().strip()
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-cache-dir", wheel])
    import importtool


class ImportTool:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        return {"ui": {"where": [importtool.__file__]}, "result": (importtool.__version__,)}


NODE_CLASS_MAPPINGS = {"ImportTool": ImportTool}
