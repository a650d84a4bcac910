"""The child's fd 1 belongs to the protocol. Import this first in a child entry point (standard library only)
and call ``take_stdout()`` before anything else is imported, so no ``print`` and no C library writing to stdout
can corrupt the stream."""

from __future__ import annotations

import os
import sys


def take_stdout() -> int:
    """Return a private duplicate of fd 1 for the protocol; point fd 1 (C level) and ``sys.stdout`` at stderr."""
    sys.stdout.flush()
    proto = os.dup(1)
    os.set_inheritable(proto, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when the parent that spawned it dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG); exit at once if the parent is already gone. ``NODEHOST_PARENT_PID`` names the
    expected parent. Elsewhere the pipe closing still ends the child once it is idle."""
    import signal

    expected = os.environ.get("NODEHOST_PARENT_PID")
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if expected and expected.isdigit() and os.getppid() != int(expected):
        os._exit(1)
