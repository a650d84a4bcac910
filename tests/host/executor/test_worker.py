"""The executor runs on its own loop in one worker thread; node bodies run inline on that thread."""

from __future__ import annotations

import threading

from host.executor.events import ListSink
from host.executor.executor import Executor
from host.executor.worker import ExecutorThread

SEEN: list[str] = []


class WhereAmI:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self):
        SEEN.append(threading.current_thread().name)
        return {"ui": {"thread": [threading.current_thread().name]}}


def test_prompt_runs_on_the_worker_thread(make_registry) -> None:
    sink = ListSink()
    executor = Executor(make_registry({"WhereAmI": WhereAmI}), sink)
    with ExecutorThread(name="exec-worker") as worker:
        result = worker.call(executor.run({"1": {"class_type": "WhereAmI", "inputs": {}}}, "p"), timeout=30)
        again = worker.call(executor.run({"2": {"class_type": "WhereAmI", "inputs": {}}}, "q"), timeout=30)
    assert result.status == "success" and again.status == "success"
    assert SEEN == ["exec-worker"] and again.outputs == {"2": {"thread": ["exec-worker"]}}  # 2nd: cache hit
    assert "executed" in sink.types()
