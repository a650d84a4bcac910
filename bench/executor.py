"""Executor throughput: EmptyImage(8x8) -> ImageInvert x N -> PreviewImage, in-process.

``chain_us_per_node``: validate + execute on a fresh executor, divided by N. ``cached_us_per_node``: the same
prompt again on the same executor (validated again, every node a cache hit), divided by N.
``validate_ms_100000``: validation alone of the 100,000-node chain. ``expand_us_per_node``: a node that expands
into a 10,000-node ImageInvert chain, whole prompt / 10,000. ``lazy_switch_us``: a lazy switch choosing one of
two 1,000-node branches (only the chosen branch runs), whole prompt. With ``--json`` the last line is one JSON
object. Goals: <= 30 us per node at every size, cached re-run <= 5 us per node.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builtin_nodes import OutputPaths, load_builtin  # noqa: E402
from host.executor.events import Executing, ListSink  # noqa: E402
from host.executor.executor import Executor  # noqa: E402
from host.registry import Registry  # noqa: E402
from host.runtime import freeze_startup_objects, tune_gc  # noqa: E402
from isolate.local_runner import LocalRunner  # noqa: E402


class ExpandChain:
    """Expands into ``n`` ImageInvert nodes fed by its (raw) image link."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"rawLink": True}), "n": ("INT",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def run(self, image, n):
        from isolate.graph_utils import GraphBuilder

        graph = GraphBuilder()
        prev = image
        for _ in range(n):
            prev = graph.node("ImageInvert", image=prev).out(0)
        return {"result": (prev,), "expand": graph.finalize()}


class LazySwitch:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"select": ("BOOLEAN",), "on_true": ("IMAGE", {"lazy": True}),
                             "on_false": ("IMAGE", {"lazy": True})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    def check_lazy_status(self, select, on_true=None, on_false=None):
        return ["on_true" if select else "on_false"]

    def run(self, select, on_true=None, on_false=None):
        return (on_true if select else on_false,)


def empty() -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}


def expand_prompt(n: int) -> dict:
    return {"0": empty(), "x": {"class_type": "ExpandChain", "inputs": {"image": ["0", 0], "n": n}},
            "out": {"class_type": "PreviewImage", "inputs": {"images": ["x", 0]}}}


def switch_prompt(n: int) -> dict:
    prompt = {"0": empty()}
    for branch in ("a", "b"):
        prev = "0"
        for i in range(n):
            prompt[f"{branch}{i}"] = {"class_type": "ImageInvert", "inputs": {"image": [prev, 0]}}
            prev = f"{branch}{i}"
    prompt["sw"] = {"class_type": "LazySwitch", "inputs": {"select": True, "on_true": [f"a{n - 1}", 0],
                                                           "on_false": [f"b{n - 1}", 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": ["sw", 0]}}
    return prompt


def timed_run(registry: Registry, prompt: dict) -> tuple[float, ListSink]:
    sink = ListSink()
    t0 = time.perf_counter()
    result = asyncio.run(Executor(registry, sink).run(prompt, "x"))
    elapsed = time.perf_counter() - t0
    assert result.status == "success", result.error
    return elapsed, sink


def chain_prompt(n: int) -> dict:
    prompt = {"0": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}}}
    for i in range(1, n + 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": [str(n), 0]}}
    return prompt


def measure(n: int, registry: Registry) -> tuple[float, float]:
    prompt = chain_prompt(n)
    sink = ListSink()
    ex = Executor(registry, sink)
    t0 = time.perf_counter()
    first = asyncio.run(ex.run(prompt, "a"))
    t1 = time.perf_counter()
    second = asyncio.run(ex.run(prompt, "b"))
    t2 = time.perf_counter()
    assert first.status == second.status == "success", (first.error, second.error)
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's GC settings (for comparison)")
    args = parser.parse_args()
    sys.setrecursionlimit(1000)  # prove nothing recurses per node
    if not args.default_gc:
        tune_gc()  # the process settings `nodehost run` and the server start with
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry()
        load_builtin(registry, OutputPaths(Path(tmp) / "out", Path(tmp) / "temp"))
        registry.add_classes({"ExpandChain": ExpandChain, "LazySwitch": LazySwitch}, LocalRunner(), origin="bench")
        registry.freeze()
        import torch  # noqa: F401  (import cost is not the executor's)

        if not args.default_gc:
            freeze_startup_objects()
        print(f"gc thresholds {gc.get_threshold()}, frozen objects {gc.get_freeze_count()}")

        measure(100, registry)  # warm-up
        chain, cached = {}, {}
        for n in (int(s) for s in args.sizes.split(",")):
            chain[str(n)], cached[str(n)] = measure(n, registry)
            print(f"N={n:>6}: chain {chain[str(n)]:7.2f} us/node, cached re-run {cached[str(n)]:6.2f} us/node")
        ex = Executor(registry, ListSink())
        prompt = chain_prompt(100_000)
        t0 = time.perf_counter()
        asyncio.run(ex.validate(prompt))
        validate_ms = (time.perf_counter() - t0) * 1e3
        print(f"validate 100,000-node chain: {validate_ms:.1f} ms")
        expand_s, sink = timed_run(registry, expand_prompt(10_000))
        ran = sum(1 for e in sink.events if isinstance(e, Executing))
        expand_us = expand_s / 10_000 * 1e6
        print(f"expand into a 10,000-node chain: {expand_us:.2f} us/node ({ran} nodes ran)")
        switch_s, sink = timed_run(registry, switch_prompt(1000))
        ran = {e.node for e in sink.events if isinstance(e, Executing)}
        assert not any(n.startswith("b") for n in ran), "the unchosen branch ran"
        switch_us = switch_s * 1e6
        print(f"lazy switch over two 1,000-node branches: {switch_us:.0f} us ({len(ran)} nodes ran)")
    if args.json:
        print(json.dumps({"chain_us_per_node": chain, "cached_us_per_node": cached,
                          "validate_ms_100000": round(validate_ms, 1), "expand_us_per_node": round(expand_us, 2),
                          "lazy_switch_us": round(switch_us)}))


if __name__ == "__main__":
    main()
