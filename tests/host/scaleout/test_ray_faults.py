"""Faults on Ray workers (conftest.py's cluster and server): a worker killed mid-prompt fails just that prompt
(or, with --requeue-running, runs it again) and Ray restarts it; a worker hung past the prompt deadline is
killed and restarted; the other prompts are never lost."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from scaleout_helpers import history_of, post

pytestmark = [pytest.mark.ray, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]


def who(tag: int, seconds: float = 0.0) -> dict[str, Any]:
    return {"1": {"class_type": "WhoAmI", "inputs": {"tag": tag, "seconds": seconds}}}


async def worker_running(served: Any, prompt_id: str) -> Any:
    for _ in range(400):
        for worker in served.state.pool.workers:
            if worker.running == prompt_id:
                await asyncio.sleep(0.5)  # inside the node by now
                return worker
        await asyncio.sleep(0.05)
    raise AssertionError(f"{prompt_id} never started")


async def test_a_worker_killed_mid_prompt_fails_just_that_prompt(served) -> None:
    client = served.client
    doomed = await post(client, who(1, 30))
    other = await post(client, who(2, 3))
    victim = await worker_running(served, doomed)
    old_pid = victim.info.pid
    os.kill(old_pid, signal.SIGKILL)  # the worker's process dies, as on a crash or OOM kill
    entry = await history_of(client, doomed)
    assert entry["status"]["status_str"] == "error"
    kind, error = entry["status"]["messages"][-1]
    assert kind == "execution_error" and error["exception_type"] == "WorkerDied"
    assert (await history_of(client, other))["status"]["status_str"] == "success"
    # Ray restarted the actor: two prompts at once run on two processes again, one of them new
    ids = [await post(client, who(3 + i, 1.0)) for i in range(2)]
    pids = [(await history_of(client, i))["outputs"]["1"]["pid"][0] for i in ids]
    assert len(set(pids)) == 2 and old_pid not in pids
    assert victim.ready and victim.info.pid != old_pid


async def test_with_requeue_running_the_killed_prompt_runs_again(served) -> None:
    served.state.config.requeue_running = True
    try:
        prompt_id = await post(served.client, who(10, 3))
        victim = await worker_running(served, prompt_id)
        os.kill(victim.info.pid, signal.SIGKILL)
        entry = await history_of(served.client, prompt_id)
    finally:
        served.state.config.requeue_running = False
    assert entry["status"]["status_str"] == "success" and entry["outputs"]["1"]["tag"] == [10]


async def test_a_hung_worker_is_killed_at_the_deadline_and_restarted(served) -> None:
    pool = served.state.pool
    pool.settings.prompt_deadline = 2.0
    try:
        stuck = await post(served.client, {"1": {"class_type": "Stuck", "inputs": {"seconds": 60.0}}})
        victim = await worker_running(served, stuck)
        entry = await history_of(served.client, stuck)
    finally:
        pool.settings.prompt_deadline = None
    kind, error = entry["status"]["messages"][-1]
    assert error["exception_type"] == "WorkerHung" and "deadline of 2 s" in error["exception_message"]
    old_pid = victim.info.pid
    # sent at once, while Ray restarts the killed actor: they wait for the new process (the old one can still
    # answer for a moment after the kill, and once did, so a prompt went to an actor that was restarting)
    ids = [await post(served.client, who(20 + i, 1.0)) for i in range(2)]
    assert [(await history_of(served.client, i))["status"]["status_str"] for i in ids] == ["success", "success"]
    assert victim.ready and victim.info.pid != old_pid


async def test_a_prompt_sent_to_an_actor_ray_is_restarting_waits_for_it(served) -> None:
    """The actor is killed behind the pool's back (Ray restarts it): the pool still thinks it ready, Ray
    refuses the prompt as 'restarting' before it ran, and the pool sends it again to the new process."""
    ray = served.state.pool.ray
    victims = served.state.pool.workers
    old = {w.info.pid for w in victims}
    for worker in victims:
        ray.kill(worker.handle, no_restart=False)
    ids = [await post(served.client, who(30 + i, 0.5)) for i in range(3)]
    entries = [await history_of(served.client, i) for i in ids]
    assert [e["status"]["status_str"] for e in entries] == ["success"] * 3, entries
    assert {e["outputs"]["1"]["pid"][0] for e in entries}.isdisjoint(old)
