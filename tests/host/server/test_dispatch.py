"""host/server/dispatch.py over host/server/workers.py: prompts handed to idle workers (two in-process
executors on their own threads here), interrupt by prompt id, a lost worker's prompt failed or queued again."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from testnodes import Show

from host.executor.executor import Executor
from host.executor.worker import ExecutorThread
from host.server.app import ServerConfig, build_app
from host.server.workers import LocalWorker, LocalWorkers, WorkerLost
from host.server.ws import ServerSink

pytestmark = pytest.mark.timeout(60)


class Meet:
    """Returns only once two prompts are inside it at the same time (or fails after 10 s)."""

    barrier = threading.Barrier(2, timeout=10)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        Meet.barrier.wait()
        return {"ui": {"v": [v], "thread": [threading.current_thread().name]}}


class Wait:
    """Waits until interrupted (checks the executor's interrupt through its progress hook)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        from isolate.context import report_progress

        for i in range(1000):
            report_progress(i, 1000)  # raises once the prompt is interrupted
            threading.Event().wait(0.01)
        return {"ui": {"v": [v]}}


class TwoThreads(LocalWorkers):
    """Two in-process executors, each on its own thread."""

    async def start(self, state: Any) -> None:
        await super().start(state)
        self.thread = ExecutorThread(name="second").start()
        second = LocalWorker(Executor(state.registry, ServerSink(asyncio.get_running_loop(), state.sockets)),
                             self.thread)
        second.name = "second"
        self.workers.append(second)

    async def stop(self) -> None:
        await super().stop()
        self.thread.stop()


class LosesFirst(LocalWorkers):
    """The in-process worker, except that its first prompt is lost (as if its process died)."""

    lost = 0

    async def start(self, state: Any) -> None:
        await super().start(state)
        worker = self.workers[0]
        run = worker.execute

        async def execute(item: Any) -> Any:
            if self.lost == 0:
                self.lost += 1
                raise WorkerLost("WorkerDied", worker.name, "the worker process died")
            return await run(item)

        worker.execute = execute  # type: ignore[method-assign]


class BreaksFirst(LocalWorkers):
    """The in-process worker, except that running its first prompt raises outside any node (an executor bug)."""

    async def start(self, state: Any) -> None:
        await super().start(state)
        worker = self.workers[0]
        run = worker.execute
        broken = [True]

        async def execute(item: Any) -> Any:
            if broken:
                broken.clear()
                raise RuntimeError("the executor broke")
            return await run(item)

        worker.execute = execute  # type: ignore[method-assign]


def show(node: str, v: int) -> dict[str, Any]:
    return {"1": {"class_type": node, "inputs": {"v": v}}}


async def wait_history(client: TestClient, prompt_id: str) -> dict[str, Any]:
    for _ in range(500):
        body = await (await client.get(f"/history/{prompt_id}")).json()
        if body:
            return body[prompt_id]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{prompt_id} never finished")


@pytest.fixture
def app_with(make_registry, paths):
    def make(pool: Any, **config: Any) -> Any:
        registry = make_registry({"Meet": Meet, "Wait": Wait, "Show": Show})
        return build_app(registry, ServerConfig(output_dir=paths.output_dir, temp_dir=paths.temp_dir, **config),
                         workers=pool)

    return make


async def test_two_workers_run_two_prompts_at_once(app_with) -> None:
    async with TestClient(TestServer(app_with(TwoThreads()))) as client:
        ids = [(await (await client.post("/prompt", json={"prompt": show("Meet", v)})).json())["prompt_id"]
               for v in (1, 2)]
        entries = [await wait_history(client, i) for i in ids]
    assert [e["status"]["status_str"] for e in entries] == ["success", "success"]
    assert {e["outputs"]["1"]["thread"][0] for e in entries} == {"nodehost-executor", "second"}


async def test_interrupt_names_the_prompt_on_whichever_worker_runs_it(app_with) -> None:
    async with TestClient(TestServer(app_with(TwoThreads()))) as client:
        a = (await (await client.post("/prompt", json={"prompt": show("Wait", 1)})).json())["prompt_id"]
        b = (await (await client.post("/prompt", json={"prompt": show("Wait", 2)})).json())["prompt_id"]
        for _ in range(200):
            queue = await (await client.get("/queue")).json()
            if len(queue["queue_running"]) == 2:
                break
            await asyncio.sleep(0.02)
        assert sorted(i[1] for i in queue["queue_running"]) == sorted([a, b])
        await client.post("/interrupt", json={"prompt_id": b})
        entry_b = await wait_history(client, b)
        assert entry_b["status"]["messages"][-1][0] == "execution_interrupted", entry_b
        assert a not in await (await client.get("/history")).json()  # still running
        await client.post("/interrupt", json={})  # no id: every running prompt
        entry_a = await wait_history(client, a)
    assert entry_a["status"]["messages"][-1][0] == "execution_interrupted"


async def test_a_lost_worker_fails_just_that_prompt(app_with) -> None:
    async with TestClient(TestServer(app_with(LosesFirst()))) as client:
        ws = await client.ws_connect("/ws?clientId=c")
        await ws.receive_json()
        first = (await (await client.post("/prompt", json={"prompt": show("Meet", 1), "client_id": "c"})).json())
        second = (await (await client.post("/prompt", json={"prompt": show("Show", 3)})).json())
        entry = await wait_history(client, first["prompt_id"])
        assert entry["status"]["status_str"] == "error"
        kind, error = entry["status"]["messages"][0]
        assert kind == "execution_error" and error["exception_type"] == "WorkerDied"
        assert "died" in error["exception_message"]
        assert (await wait_history(client, second["prompt_id"]))["status"]["status_str"] == "success"
        seen = []
        while not seen or seen[-1] != "executing":
            seen.append((await asyncio.wait_for(ws.receive_json(), 10))["type"])
        assert "execution_error" in seen


async def test_with_requeue_running_a_lost_workers_prompt_runs_again(app_with, tmp_path) -> None:
    Meet.barrier = threading.Barrier(1)
    pool = LosesFirst()
    app = app_with(pool, requeue_running=True, database=tmp_path / "q.sqlite3")
    async with TestClient(TestServer(app)) as client:
        pid = (await (await client.post("/prompt", json={"prompt": show("Meet", 7)})).json())["prompt_id"]
        entry = await wait_history(client, pid)
    Meet.barrier = threading.Barrier(2, timeout=10)
    assert pool.lost == 1 and entry["status"]["status_str"] == "success" and entry["outputs"]["1"]["v"] == [7]


async def test_a_failure_outside_any_node_is_a_whole_execution_error_and_the_next_prompt_runs(app_with) -> None:
    async with TestClient(TestServer(app_with(BreaksFirst()))) as client:
        ws = await client.ws_connect("/ws?clientId=c")
        await ws.receive_json()
        first = (await (await client.post("/prompt", json={"prompt": show("Show", 1), "client_id": "c"})).json())
        second = (await (await client.post("/prompt", json={"prompt": show("Show", 2)})).json())
        entry = await wait_history(client, first["prompt_id"])
        [[kind, error]] = entry["status"]["messages"]
        assert kind == "execution_error" and entry["status"]["status_str"] == "error"
        assert set(error) == {"prompt_id", "node_id", "node_type", "executed", "exception_message",
                              "exception_type", "traceback", "current_inputs", "current_outputs", "timestamp"}
        assert error["exception_type"] == "RuntimeError" and error["exception_message"] == "the executor broke"
        assert error["prompt_id"] == first["prompt_id"] and "RuntimeError: the executor broke" in error["traceback"][-1]
        assert (await wait_history(client, second["prompt_id"]))["status"]["status_str"] == "success"
        sent = []
        while not sent or sent[-1]["type"] != "executing":
            sent.append(await asyncio.wait_for(ws.receive_json(), 10))
        assert [m["data"] for m in sent if m["type"] == "execution_error"] == [error]
