"""A real ``nodehost serve`` process, driven like ComfyUI's websockets_api_example.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_a_prompt_over_http(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--port", str(port), "--output-directory",
                             str(tmp_path / "out"), "--temp-directory", str(tmp_path / "temp"),
                             "--user-directory", str(tmp_path / "user")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/prompt", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                               "color": 0}},
                  "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "e2e"}}}
        request = urllib.request.Request(base + "/prompt", data=json.dumps({"prompt": prompt}).encode())
        prompt_id = json.loads(urllib.request.urlopen(request, timeout=10).read())["prompt_id"]
        for _ in range(300):
            history = json.loads(urllib.request.urlopen(f"{base}/history/{prompt_id}", timeout=5).read())
            if history:
                break
            time.sleep(0.05)
        assert history[prompt_id]["status"]["status_str"] == "success"
        assert (tmp_path / "out" / "e2e_00001_.png").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
