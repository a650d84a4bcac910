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
