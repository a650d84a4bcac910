"""A test node pack (v1 API): used by the extension tests, run in its own process."""

import asyncio
import ctypes
import os
import signal
import time

print("demo_pack prints to stdout at import")

from server import PromptServer  # noqa: E402  (pack routes, as ComfyUI packs register them)


@PromptServer.instance.routes.get("/demo_pack/hello/{name}")
async def hello(request):
    from aiohttp import web

    return web.json_response({"hello": request.match_info["name"], "q": request.query.get("q")})


@PromptServer.instance.routes.post("/demo_pack/echo")
async def echo(request):
    from aiohttp import web

    body = await request.json()
    return web.json_response({"echo": body}, status=201)

from comfy_api.latest import io  # noqa: E402  (the compat modules are on sys.path in a child)

from isolate.context import report_progress  # noqa: E402
from isolate.graph_utils import ExecutionBlocker, GraphBuilder  # noqa: E402


class DemoAdd:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0, "min": -1000, "max": 1000}), "b": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def __init__(self):
        self.calls = 0

    def run(self, a, b):
        self.calls += 1
        print(f"DemoAdd running: {a} + {b}")
        return (a + b,)


class DemoShow:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "demo"

    def run(self, value):
        return {"ui": {"text": [repr(value)], "pid": [os.getpid()]}}


class DemoCount:
    """Returns how many times this node instance ran (one instance per node id in the child)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    NOT_IDEMPOTENT = True
    CATEGORY = "demo"

    def __init__(self):
        self.n = 0

    def run(self, x):
        self.n += 1
        return (self.n,)


class DemoSleep:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 0.1}), "value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    async def run(self, seconds, value):
        await asyncio.sleep(seconds)
        return (value,)


class DemoProgress:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3}), "delay": ("FLOAT", {"default": 0.0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, steps, delay):
        from PIL import Image

        for i in range(steps):
            time.sleep(delay)
            preview = ("JPEG", Image.new("RGB", (64, 32), "green"), 512) if i == steps - 1 else None
            report_progress(i + 1, steps, preview=preview)
        return (steps,)


class DemoCrash:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"how": (["exit", "sigkill", "segfault", "raise"],), "value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, how, value):
        if how == "exit":
            os._exit(7)
        if how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "segfault":
            ctypes.string_at(0)
        raise ValueError(f"demo failure with {value}")


class DemoSwitch:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pick": ("BOOLEAN",), "yes": ("INT", {"lazy": True}), "no": ("INT", {"lazy": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def check_lazy_status(self, pick, yes=None, no=None):
        return ["yes"] if pick else ["no"]

    def run(self, pick, yes=None, no=None):
        return (yes if pick else no,)


class DemoExpand:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"start": ("INT",), "n": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, start, n):
        graph = GraphBuilder()
        prev = start
        for _ in range(n):
            prev = graph.node("DemoAdd", a=prev, b=10).out(0)
        return {"result": (prev,), "expand": graph.finalize()}


class DemoGate:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",), "open": ("BOOLEAN",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    @classmethod
    def VALIDATE_INPUTS(cls, value):
        return True if value != 13 else "13 is unlucky"

    def run(self, value, open):
        return (value,) if open else (ExecutionBlocker("gate closed"),)


class DemoV3Twice(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="DemoV3Twice", category="demo", inputs=[io.Int.Input("v")],
                         outputs=[io.Int.Output()], hidden=[io.Hidden.unique_id])

    @classmethod
    def execute(cls, v):
        return io.NodeOutput(v * 2, ui={"who": [cls.hidden.unique_id]})


class DemoInvert:
    """IMAGE in, IMAGE out: the tensor crosses both ways through shared memory."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, image):
        return (1.0 - image,)


class DemoSpin:
    """Busy forever, never reporting progress: only killing the child stops it."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, value):
        while True:
            value += 1


class DemoFolders:
    """Where the pack's folder_paths points (the host's folders, passed at spawn)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "demo"

    def run(self):
        import folder_paths

        return {"ui": {"output": [folder_paths.get_output_directory()], "temp": [folder_paths.get_temp_directory()]}}


class DemoSlowCheck:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    @classmethod
    def VALIDATE_INPUTS(cls, value):
        time.sleep(value)
        return True

    def run(self, value):
        return (value,)


class Thing:
    """An object that cannot cross the process boundary."""

    def __init__(self, value):
        self.value = value


class DemoMakeThing:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("THING",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, value):
        return (Thing(value),)


class DemoUseThing:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"thing": ("THING",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "demo"

    def run(self, thing):
        return (thing.value * 10,)


class DemoRange:
    """A list output (OUTPUT_IS_LIST): downstream nodes run once per element."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT", {"default": 3})}}

    RETURN_TYPES = ("INT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "run"
    CATEGORY = "demo"

    @classmethod
    def IS_CHANGED(cls, n):
        return float("nan") if n < 0 else n

    def run(self, n):
        return (list(range(abs(n))),)


class DemoNotify:
    """Talks to the frontend through PromptServer.instance, as packs do."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"message": ("STRING", {"default": "hi"})}, "hidden": {"uid": "UNIQUE_ID"}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "demo"

    def run(self, message, uid):
        from server import PromptServer

        PromptServer.instance.send_sync("demo.message", {"message": message, "node": uid})
        PromptServer.instance.send_progress_text(f"text for {uid}", uid)
        return {"ui": {"sent": [message]}}


class DemoShape:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "demo"

    def run(self, image):
        return {"ui": {"shape": list(image.shape), "sum": [float(image.sum())]}}


NODE_CLASS_MAPPINGS = {c.__name__: c for c in (
    DemoNotify, DemoMakeThing, DemoUseThing, DemoRange, DemoInvert, DemoSpin, DemoFolders, DemoSlowCheck,
    DemoShape, DemoAdd, DemoShow, DemoCount, DemoSleep, DemoProgress, DemoCrash, DemoSwitch, DemoExpand, DemoGate,
    DemoV3Twice)}
NODE_DISPLAY_NAME_MAPPINGS = {"DemoAdd": "Demo Add"}
WEB_DIRECTORY = "./web"
