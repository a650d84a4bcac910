"""Running a pack's child under bubblewrap (``bwrap``): its own network, PID, IPC and UTS namespaces, no
capabilities, a private /tmp, and a filesystem of read-only binds (the system, the host's Python and torch, the
pack's environment and folder) plus the few folders it may write; environment variables from an allow-list.

``SandboxPolicy`` says what one child may see; ``bwrap_argv`` turns it into the command line; ``SandboxLauncher``
spawns the child with it (RemoteRunner calls its ``spawn``). Nothing here decides *what* a pack is granted: the
host builds the policy (host/extensions/sandbox.py).

Signals: bwrap's own PID 1 inside the sandbox does not forward signals, so the host signals the pack's process
itself, whose host-side PID it learns from bwrap's ``--info-fd`` (the sandbox's init) and that init's only child.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isolate.rpc.peer import Peer
from isolate.rpc.transport import ChildProcess, spawn_child

#: system folders every child sees read-only (those that exist)
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
#: the few files of /etc a Python process and its C libraries read (not /etc as a whole)
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
             "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates",
             "/etc/mime.types", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf")
#: only with network access: how to resolve names
NETWORK_FILES = ("/etc/resolv.conf",)
#: environment variables a child keeps (prefixes end with "_" or "*"); everything else is dropped
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "NODEHOST_SHM_PREFIX", "NODEHOST_FOLDERS",
             "NODEHOST_SHM_DIR", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
             "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTORCH_*", "TORCH_*", "HF_HUB_OFFLINE")
#: GPU device nodes passed through when present
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset", "/dev/dri",
               "/dev/kfd")


class SandboxUnavailable(RuntimeError):
    """Sandboxing was asked for, but bwrap is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class SandboxPolicy:
    """What one sandboxed child may see, path by path (each bound at the same path inside)."""

    #: folders and files visible read-only
    read_only: tuple[str, ...]
    #: folders the child may write (output, temp, its own state folder, granted extras)
    read_write: tuple[str, ...]
    #: HOME inside the sandbox (one of ``read_write``: the pack's state folder)
    home: str
    #: the host's private shared-memory folder (bound read-write); None: the whole /dev/shm is shared
    shm_dir: str | None
    #: keep the host's network (a grant); default: a network namespace with only its own loopback
    network: bool = False
    #: extra environment variables set inside (after the allow-list)
    env: dict[str, str] = field(default_factory=dict)


def find_bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable("sandboxing needs bubblewrap: `bwrap` is not on PATH (apt-get install bubblewrap)")
    return found


def check_available(bwrap: str | None = None) -> str:
    """bwrap's path, after one real sandbox has started here (SandboxUnavailable with bwrap's reason if not)."""
    bwrap = bwrap or find_bwrap()
    probe = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", *_ro_binds(SYSTEM_PATHS),
             "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bwrap cannot run: {exc}") from exc
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        raise SandboxUnavailable(f"bwrap cannot create a sandbox here (user namespaces unavailable?): {reason}")
    return bwrap


def host_python_paths() -> list[str]:
    """The host's interpreter and packages: base installation, the host venv, and nodehost's ``isolate``."""
    import isolate

    paths = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
             str(Path(os.path.realpath(sys.executable)).parent.parent), str(Path(isolate.__file__).parent)}
    return sorted(p for p in paths if os.path.exists(p))


def _ro_binds(paths: Sequence[str]) -> list[str]:
    return [arg for p in paths for arg in ("--ro-bind-try", p, p)]


def bwrap_argv(policy: SandboxPolicy, argv: Sequence[str], bwrap: str = "bwrap",
               info_fd: int | None = None) -> list[str]:
    """The bwrap command line that runs ``argv`` under ``policy``."""
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if policy.network:
        cmd.append("--share-net")
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind-try", "/sys", "/sys"]
    cmd += _ro_binds(SYSTEM_PATHS + ETC_FILES + (NETWORK_FILES if policy.network else ()))
    for dev in GPU_DEVICES + tuple(sorted(str(p) for p in Path("/dev").glob("nvidia[0-9]*"))):
        cmd += ["--dev-bind-try", dev, dev]
    # parents before children: a read-write folder inside a read-only one stays writable
    binds = [(p, "--ro-bind-try") for p in policy.read_only] + [(p, "--bind") for p in policy.read_write]
    if policy.shm_dir is not None:
        binds.append((policy.shm_dir, "--bind"))
    else:
        binds.append(("/dev/shm", "--bind"))
    for path, how in sorted(binds, key=lambda b: (b[0].count("/"), b[0])):
        cmd += [how, path, path]
    cmd += ["--chdir", policy.home]
    for key, value in policy.env.items():
        cmd += ["--setenv", key, value]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]
    return cmd + ["--", *argv]


def allowed_env(env: dict[str, str], allow: Sequence[str] = ENV_ALLOW) -> dict[str, str]:
    """Only the allow-listed variables of ``env`` (an entry ending in ``*`` is a prefix)."""
    exact = {a for a in allow if not a.endswith("*")}
    prefixes = tuple(a[:-1] for a in allow if a.endswith("*"))
    return {k: v for k, v in env.items() if k in exact or k.startswith(prefixes)}


class SandboxedChild(ChildProcess):
    """A child under bwrap: ``pid`` is bwrap's; signals go to the pack's own process inside."""

    init_pid: int | None = None

    def inner_pid(self) -> int | None:
        if self.init_pid is None:
            return None
        try:
            with open(f"/proc/{self.init_pid}/task/{self.init_pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def send_signal(self, sig: int = signal.SIGKILL) -> None:
        if self.returncode is not None:
            return
        target = self.inner_pid()
        if target is None or sig == signal.SIGKILL:
            super().send_signal(sig)  # bwrap itself: --die-with-parent takes the sandbox with it
            return
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


class SandboxLauncher:
    """Spawns a child under ``policy`` (RemoteRunner's launcher when its pack is sandboxed)."""

    def __init__(self, policy: SandboxPolicy, bwrap: str = "bwrap") -> None:
        self.policy, self.bwrap = policy, bwrap

    async def spawn(self, argv: Sequence[str], peer: Peer, *, env: dict[str, str] | None = None,
                    on_stderr: Callable[[bytes], None] | None = None, **popen: Any) -> ChildProcess:
        for path in self.policy.read_write:
            os.makedirs(path, exist_ok=True)
        inner_env = allowed_env(dict(env if env is not None else os.environ))
        inner_env.update({"HOME": self.policy.home, "TMPDIR": "/tmp", "XDG_CACHE_HOME": f"{self.policy.home}/cache"})
        if self.policy.shm_dir is not None:
            inner_env["NODEHOST_SHM_DIR"] = self.policy.shm_dir
        r, w = os.pipe()
        try:
            child = await spawn_child(bwrap_argv(self.policy, argv, self.bwrap, info_fd=w), peer, env=inner_env,
                                      on_stderr=on_stderr, exit_status=signal_status, pass_fds=(w,), **popen)
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        sandboxed = SandboxedChild(child.peer, child.transport, child._protocol)
        sandboxed.init_pid = await asyncio.to_thread(_read_init_pid, r)
        return sandboxed


def signal_status(code: int) -> int:
    """bwrap exits with 128 + N when the pack's process dies of signal N: report it as the signal (-N)."""
    return -(code - 128) if 128 < code < 128 + 65 else code


def _read_init_pid(fd: int) -> int | None:
    """bwrap's --info-fd JSON (``child-pid``: the sandbox's init, as the host sees it); None if bwrap failed."""
    data = b""
    try:
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None
