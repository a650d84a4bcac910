"""A pack's ``install.py``: run once when its environment is built, as ComfyUI-Manager runs it after installing a
pack, and again whenever the script or the pack's requirements change (its hash is part of the environment's).

It runs in the pack's venv (its pip is the stand-in, so it installs there), with the pack folder as working
directory and a timeout; its output goes to ``<env>/install.log`` and the log. A failure is returned, not
raised: it is reported for that pack, and the pack is still loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SCRIPT = "install.py"
LOG = "install.log"
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class InstallResult:
    ok: bool
    detail: str  # '' when it succeeded, else what went wrong (the last lines of its output)


def script_digest(pack_dir: Path | None) -> str:
    script = pack_dir / SCRIPT if pack_dir is not None else None
    if script is None or not script.is_file():
        return ""
    return hashlib.sha256(script.read_bytes()).hexdigest()[:16]


async def run_install_script(pack_dir: Path, env: Path, timeout: float = TIMEOUT_S) -> InstallResult:
    """Run ``install.py`` with the env's python; its output is written to ``env/install.log``."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    clean["VIRTUAL_ENV"] = str(env)
    clean["PATH"] = f"{env / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    proc = await asyncio.create_subprocess_exec(str(env / "bin" / "python"), SCRIPT, cwd=pack_dir, env=clean,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return InstallResult(False, f"install.py did not finish within {timeout:.0f} s")
    text = out.decode(errors="replace")
    (env / LOG).write_text(text)
    if proc.returncode != 0:
        tail = " | ".join(text.strip().splitlines()[-3:])
        return InstallResult(False, f"install.py exited with {proc.returncode}: {tail}")
    return InstallResult(True, "")
