"""Node classes the scale-out tests (tests/host/scaleout) run on Ray workers, and the registry factory that adds
them to the builtin nodes there and on the server. Importable by name in a worker process (tests/ is on the
workers' PYTHONPATH)."""

from __future__ import annotations

import os
import time

from testnodes import Show, Value


class WhoAmI:
    """An output node showing the process it ran in (and waiting ``seconds``, checking for interrupts);
    ``model`` (optional) makes a checkpoint loader part of the prompt."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"tag": ("INT",), "seconds": ("FLOAT", {"default": 0.0, "step": 0.01})},
                "optional": {"model": ("MODEL",), "image": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, tag, seconds, model=None, image=None):
        from isolate.context import report_progress

        started = time.time()
        end = started + seconds
        while time.time() < end:
            report_progress(time.time() - started, seconds)  # raises once interrupted
            time.sleep(0.02)
        shape = list(image.shape) if image is not None else []
        return {"ui": {"pid": [os.getpid()], "tag": [tag], "span": [started, time.time()], "shape": shape}}


class Stuck:
    """Sleeps without ever checking for an interrupt: a worker that hangs."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 60.0})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, seconds):
        time.sleep(seconds)
        return {"ui": {"pid": [os.getpid()]}}


CLASSES = {"WhoAmI": WhoAmI, "Stuck": Stuck, "Value": Value, "Show": Show}


def registry(paths, folders):
    """The builtin nodes plus :data:`CLASSES` (a host.scaleout RegistryFactory)."""
    from host.scaleout.spec import builtin_registry
    from isolate.local_runner import LocalRunner

    reg = builtin_registry(paths, folders)
    reg.add_classes(CLASSES, LocalRunner(), origin="tests", python_module="custom_nodes.tests")
    return reg
