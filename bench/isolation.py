"""Isolation transport: JSON-RPC round trips over a child's stdio, and process start-up.

``rpc_p50_ms`` / ``rpc_p99_ms``: a trivial host -> child call, 2,000 calls after warm-up. ``callback_p50_ms``:
child -> host. ``child_start_s``: a bare child importing torch, from spawn to its first answered call, beside
``import_torch_s`` (``python -c "import torch"``); both the median of 5 interleaved runs. With ``--json`` the
last line is one JSON object. Goals: p50 <= 0.15 ms (stretch 0.1), p99 <= 0.5 ms, child start <= 1.2x
import torch. (pyisolate measured here: 0.47-0.68 ms p50.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isolate.rpc.peer import Peer  # noqa: E402
from isolate.rpc.transport import spawn_child  # noqa: E402

CHILD = str(ROOT / "bench" / "isolation_child.py")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def rpc_figures(calls: int) -> dict[str, float]:
    peer = Peer("bench")
    peer.register("ping", lambda params: None)
    child = await spawn_child([sys.executable, CHILD], peer)
    try:
        for _ in range(300):
            await peer.call("ping")
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await peer.call("ping")
            times.append((time.perf_counter() - t0) * 1e3)
        await peer.call("callbacks", 300)
        callbacks = await peer.call("callbacks", calls)
    finally:
        await child.close()
    return {"rpc_p50_ms": percentile(times, 0.5), "rpc_p99_ms": percentile(times, 0.99),
            "callback_p50_ms": percentile(callbacks, 0.5)}


async def child_start() -> float:
    peer = Peer("start")
    t0 = time.perf_counter()
    child = await spawn_child([sys.executable, CHILD, "--torch"], peer)
    await peer.call("ping")
    elapsed = time.perf_counter() - t0
    await child.close()
    return elapsed


def import_torch() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    figures: dict[str, object] = asyncio.run(rpc_figures(args.calls))
    print(f"host -> child call: p50 {figures['rpc_p50_ms']:.3f} ms, p99 {figures['rpc_p99_ms']:.3f} ms")
    print(f"child -> host call: p50 {figures['callback_p50_ms']:.3f} ms")
    starts, imports = [], []
    for _ in range(5):
        starts.append(asyncio.run(child_start()))
        imports.append(import_torch())
    figures["child_start_s"] = statistics.median(starts)
    figures["import_torch_s"] = statistics.median(imports)
    print(f"child start with torch: {figures['child_start_s']:.2f} s; import torch: {figures['import_torch_s']:.2f} s")
    if args.json:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
