"""A ``nodehost serve --workers ray`` that is killed and started again on the same folders and the same (external)
Ray cluster joins that cluster again and runs the prompts still queued when it died (issue 21).

Everything is a real process: a Ray head (``ray start --head --block``, in its own process group, killed with
that group afterwards: never ``ray stop``, which would end every Ray on the machine) and two servers one after
the other (the first SIGKILLed, as on a crash or OOM kill, or stopped with SIGTERM). Only core nodes run: each
prompt saves a batch of noise PNGs (seconds of work), so some are still pending when the first server goes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
SERVE = "import sys; from host.cli import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_env() -> dict[str, str]:
    """The head's, the servers' (and so the workers') environment: this tree first, no token auth (Ray 2.60's
    token auth kept a second process from joining an external head)."""
    return dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                RAY_USAGE_STATS_ENABLED="0")


def kill_group(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The cluster both servers of a test join, one per module (a Ray head takes seconds to start)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'): scale-out tests skip")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        yield from start_head(tmp_path_factory.mktemp("ray-head"))


def start_head(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    # a short private temp dir (Ray's socket paths must stay short; /tmp/ray belongs to whoever else runs Ray)
    temp = tempfile.mkdtemp(prefix="nhray-", dir="/tmp")
    ray = str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", "--head", "--block", "--num-cpus", "2", "--num-gpus", "0", "--port", str(port),
           "--include-dashboard=false", "--temp-dir", temp,
           "--dashboard-agent-listen-port", str(free_port()), "--disable-usage-stats"]
    log = (tmp_path / "ray-head.log").open("wb")
    head = subprocess.Popen(cmd, env=ray_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        address = f"127.0.0.1:{port}"
        wait_for_port(port, head, tmp_path / "ray-head.log", seconds=90)
        yield address
    finally:
        kill_group(head)
        log.close()
        with contextlib.suppress(OSError):
            subprocess.run(["rm", "-rf", temp], timeout=30)


def wait_for_port(port: int, proc: subprocess.Popen[Any], log: Path, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.3)
    raise AssertionError(f"nothing listened on {port} in {seconds} s:\n{log.read_text(errors='replace')[-4000:]}")


class Server:
    """One ``nodehost serve --workers ray`` process over ``base`` (its own session: killed with its group)."""

    def __init__(self, base: Path, address: str, port: int, log: Path) -> None:
        self.port, self.log_path = port, log
        self.log = log.open("ab")
        cmd = [sys.executable, "-c", SERVE, "serve", "--base-directory", str(base), "--user-directory",
               str(base / "user"), "--disable-all-custom-nodes", "--port", str(port), "--workers", "ray",
               "--ray-address", address, "--ray-cpu-workers", "1", "--ray-shared-folders", "yes"]
        self.proc = subprocess.Popen(cmd, env=ray_env(), cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def wait_ready(self, seconds: float = 120) -> None:
        """Serving, and its Ray worker up (/system_stats lists it once it answers)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                if self.request("/queue") is not None:
                    return
            time.sleep(0.3)
        raise AssertionError(f"the server did not answer in {seconds} s:\n{self.tail()}")

    def post(self, prompt: dict[str, Any]) -> str:
        return str(self.request("/prompt", {"prompt": prompt})["prompt_id"])

    def history(self, prompt_id: str, seconds: float = 150) -> dict[str, Any]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
            body = self.request(f"/history/{prompt_id}")
            if body:
                return body[prompt_id]  # type: ignore[no-any-return]
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not finish in {seconds} s:\n{self.tail()}")

    def worker_pid(self) -> int:
        """The pid of its Ray worker, as it logs it once the worker answers."""
        found = re.search(r"ray-0 pid (\d+) on", self.tail(100_000))
        assert found is not None, self.tail()
        return int(found.group(1))

    def kill(self) -> None:
        kill_group(self.proc)
        self.log.close()

    def tail(self, chars: int = 6000) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def noise(seed: int, batch: int) -> dict[str, Any]:
    """``batch`` 512x512 noise images saved as PNGs: seconds of work on one core."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 512, "batch_size": batch,
                                                         "color": 0}},
            "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": seed, "strength": 0.5}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": f"noise{seed}"}}}


def queue_behind_a_running_prompt(server: Server) -> tuple[str, list[str]]:
    """A warm-up prompt run, then one long prompt running and three queued behind it."""
    warm = server.post(noise(1, 1))  # the worker is up and has imported torch & co.
    assert server.history(warm)["status"]["status_str"] == "success", server.tail()
    running = server.post(noise(2, 60))
    pending = [server.post(noise(3 + i, 8)) for i in range(3)]
    end = time.monotonic() + 60
    while time.monotonic() < end:
        queue = server.request("/queue")
        if [item[1] for item in queue["queue_running"]] == [running]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"{running} never started:\n{server.tail()}")
    assert sorted(item[1] for item in queue["queue_pending"]) == sorted(pending)
    return running, pending


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_a_server_started_again_rejoins_the_cluster_and_runs_its_queue(ray_head: str, tmp_path: Path,
                                                                         stop: str) -> None:
    """Killed (a crash, an OOM kill) or stopped (SIGTERM: the running prompt is interrupted, nothing else is
    started), then started again on the same folders and cluster: the queued prompts run there."""
    base = tmp_path / "base"
    (base / "input").mkdir(parents=True)
    port = free_port()
    first = Server(base, ray_head, port, tmp_path / "serve-1.log")
    second = None
    try:
        first.wait_ready()
        running, pending = queue_behind_a_running_prompt(first)
        old_worker = first.worker_pid()
        if stop == "SIGTERM":
            first.proc.send_signal(signal.SIGTERM)
            assert first.proc.wait(timeout=60) == 0, first.tail()
        first.kill()

        restarted = time.time() * 1000
        second = Server(base, ray_head, port, tmp_path / "serve-2.log")
        second.wait_ready()
        entries = {i: second.history(i) for i in pending}
        statuses = {i: e["status"]["status_str"] for i, e in entries.items()}
        assert statuses == dict.fromkeys(pending, "success"), second.tail()
        starts = [e["status"]["messages"][0] for e in entries.values()]
        assert all(kind == "execution_start" and data["timestamp"] > restarted for kind, data in starts), starts
        for seed, prompt_id in enumerate(pending, start=3):
            images = entries[prompt_id]["outputs"]["3"]["images"]
            assert len(images) == 8 and all((base / "output" / im["filename"]).is_file() for im in images)
            assert images[0]["filename"].startswith(f"noise{seed}")
        # the prompt running when the server went: failed at the restart (killed), or interrupted (stopped)
        lost = second.history(running)
        kind, data = lost["status"]["messages"][-1]
        if stop == "SIGKILL":
            assert kind == "execution_error" and data["exception_type"] == "ServerRestarted"
        else:  # SaveImage does not look for an interrupt: it may have ended first
            assert kind in ("execution_interrupted", "execution_success"), lost["status"]
        # the first server's worker ended with it (Ray ends the actors a driver owns): it holds no CPU or GPU
        assert second.worker_pid() != old_worker
        end = time.monotonic() + 30
        while alive(old_worker) and time.monotonic() < end:
            time.sleep(0.2)
        assert not alive(old_worker)
        fresh = second.post(noise(20, 1))
        assert second.history(fresh)["status"]["status_str"] == "success", second.tail()
    finally:
        first.kill()
        if second is not None:
            second.kill()
