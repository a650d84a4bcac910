"""Executor throughput: EmptyImage(8x8) -> ImageInvert x N -> PreviewImage, in-process.

``chain_us_per_node``: validate + execute on a fresh executor, divided by N. ``cached_us_per_node``: the same
prompt again on the same executor (validated again, every node a cache hit), divided by N.
``validate_ms_100000``: validation alone of the 100,000-node chain. With ``--json`` the last line is one
JSON object. Goals: <= 30 us per node at every size, cached re-run <= 5 us per node.
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
from host.executor.events import ListSink  # noqa: E402
from host.executor.executor import Executor  # noqa: E402
from host.registry import Registry  # noqa: E402
from host.runtime import freeze_startup_objects, tune_gc  # noqa: E402


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
    if args.json:
        print(json.dumps({"chain_us_per_node": chain, "cached_us_per_node": cached,
                          "validate_ms_100000": round(validate_ms, 1)}))


if __name__ == "__main__":
    main()
