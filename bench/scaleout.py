"""Scale-out on Ray (``--workers ray``) beside the in-process executor, through the HTTP API.

``inprocess_ms_per_prompt`` / ``ray_ms_per_prompt``: one trivial prompt at a time (POST /prompt, then poll
/history), mean over the runs. ``ray_1_worker_prompts_per_s`` / ``ray_2_workers_prompts_per_s``: N CPU-bound
prompts (a pure-Python loop of about ``--burn-s`` seconds each) queued at once on 1 and 2 CPU workers. Starts a
local Ray cluster (``num_cpus=2``). With ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Burn:
    """Spins the CPU for ``loops`` iterations; shows its tag."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"tag": ("INT",), "loops": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, tag, loops):
        total = 0
        for i in range(loops):
            total += i * i % 7
        return {"ui": {"tag": [tag], "total": [total]}}


def registry(paths: Any, folders: Any) -> Any:
    from host.scaleout.spec import builtin_registry
    from isolate.local_runner import LocalRunner

    reg = builtin_registry(paths, folders)
    reg.add_classes({"Burn": Burn}, LocalRunner(), origin="bench")
    return reg


def loops_for(seconds: float) -> int:
    start = time.perf_counter()
    Burn().run(0, 1_000_000)
    return int(1_000_000 * seconds / (time.perf_counter() - start))


async def run_prompts(client: Any, tags: list[int], loops: int, at_once: bool) -> float:
    """Seconds to run the prompts (all queued first when ``at_once``, else one after another)."""
    async def post(tag: int) -> str:
        body = {"prompt": {"1": {"class_type": "Burn", "inputs": {"tag": tag, "loops": loops}}}}
        return str((await (await client.post("/prompt", json=body)).json())["prompt_id"])

    # one at a time: poll every millisecond (the figure is a few ms); queued at once: every 20 ms, as a client
    # would, so the polling server does not take a core from the workers it measures (2 cores, 2 workers)
    interval = 0.02 if at_once else 0.001

    async def done(prompt_id: str) -> None:
        while not await (await client.get(f"/history/{prompt_id}")).json():
            await asyncio.sleep(interval)

    start = time.perf_counter()
    if at_once:
        ids = [await post(t) for t in tags]
        for prompt_id in ids:
            await done(prompt_id)
    else:
        for tag in tags:
            await done(await post(tag))
    return time.perf_counter() - start


async def with_server(tmp: Path, workers: Any, work: Any) -> Any:
    from aiohttp.test_utils import TestClient, TestServer

    from builtin_nodes import NodeFolders, OutputPaths
    from host.folders import ModelFolders
    from host.server.app import ServerConfig, build_app
    from host.server.state import STATE

    config = ServerConfig(output_dir=tmp / "output", temp_dir=tmp / "temp", input_dir=tmp / "input",
                          models_dir=tmp / "models")
    folders = NodeFolders(config.input_dir, config.output_dir, config.temp_dir, ModelFolders(config.models_dir))
    app = build_app(registry(OutputPaths(config.output_dir, config.temp_dir), folders).freeze(), config,
                    workers=workers)
    async with TestClient(TestServer(app)) as client:
        await app[STATE].ready.wait()
        await run_prompts(client, [-1, -2], 0, at_once=False)  # warm: the first prompt imports torch & co.
        return await work(client)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from host.scaleout.pool import RayWorkers
    from host.scaleout.spec import RaySettings

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}})
    loops, n, runs = loops_for(args.burn_s), args.prompts, args.runs
    trivial = list(range(runs))
    figures: dict[str, Any] = {"burn_s": args.burn_s, "prompts": n, "trivial_runs": runs}
    with tempfile.TemporaryDirectory() as tmp:
        seconds = await with_server(Path(tmp) / "local", None,
                                    lambda c: run_prompts(c, trivial, 0, at_once=False))
        figures["inprocess_ms_per_prompt"] = round(seconds / runs * 1000, 2)

        async def ray_figures(client: Any) -> tuple[float, float]:
            return (await run_prompts(client, trivial, 0, at_once=False),
                    await run_prompts(client, list(range(1000, 1000 + n)), loops, at_once=True))

        for count in (1, 2):
            pool = RayWorkers(RaySettings(cpu_workers=count, registry_factory=registry))
            trivial_s, burn_s = await with_server(Path(tmp) / f"ray{count}", pool, ray_figures)
            if count == 1:
                figures["ray_ms_per_prompt"] = round(trivial_s / runs * 1000, 2)
            figures[f"ray_{count}_worker{'s' if count > 1 else ''}_prompts_per_s"] = round(n / burn_s, 3)
    ray.shutdown()
    figures["speedup_2_over_1"] = round(figures["ray_2_workers_prompts_per_s"] / figures["ray_1_worker_prompts_per_s"],
                                        2)
    return figures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    ap.add_argument("--prompts", type=int, default=16, help="CPU-bound prompts per throughput run (default 16)")
    ap.add_argument("--burn-s", type=float, default=0.5, help="seconds of CPU per prompt (default 0.5)")
    ap.add_argument("--runs", type=int, default=30, help="trivial prompts for the overhead (default 30)")
    figures = asyncio.run(main(ap.parse_args()))
    for key, value in figures.items():
        print(f"{key}: {value}")
    if ap.parse_args().json:
        print(json.dumps(figures))
