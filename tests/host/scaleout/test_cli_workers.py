"""``nodehost serve --workers ...``: without Ray installed the flag is a clear error (never a silent fallback
to in-process); Ray flags without ``--workers ray`` are refused. Runs whether or not Ray is installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)

# the CLI as a user runs it, in a process where ``import ray`` fails as it does when Ray is not installed
NO_RAY = "import sys; sys.modules['ray'] = None; from host.cli import main; sys.exit(main(sys.argv[1:]))"


def serve(tmp_path, *flags: str, code: str = NO_RAY) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, "serve", "--memory-only", "--disable-all-custom-nodes",
                           "--base-directory", str(tmp_path), "--port", "0", *flags],
                          capture_output=True, text=True, timeout=100)


def test_workers_ray_without_ray_exits_with_a_clear_message(tmp_path) -> None:
    done = serve(tmp_path, "--workers", "ray", "--ray-cpu-workers", "2")
    assert done.returncode == 2
    assert "--workers ray needs Ray: pip install -e '.[ray]'" in done.stderr


def test_ray_flags_need_workers_ray(tmp_path) -> None:
    done = serve(tmp_path, "--ray-cpu-workers", "2")
    assert done.returncode == 2 and "--ray-cpu-workers needs --workers ray" in done.stderr


def test_bad_ray_settings_are_refused(tmp_path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed: its settings are checked after the import")
    code = "import sys; from host.cli import main; sys.exit(main(sys.argv[1:]))"
    done = serve(tmp_path, "--workers", "ray", "--ray-cpu-workers", "0", code=code)
    assert done.returncode == 2 and "--ray-cpu-workers must be at least 1" in done.stderr
