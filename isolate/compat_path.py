"""Where the ComfyUI-compatible modules for node packs live (``comfy_api``, ...), and putting them on sys.path.

The host calls ``install()`` at start-up (an extension child before importing its pack); importing this
module changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: the folder holding the top-level compat packages (not itself a package)
COMPAT_DIR = Path(__file__).resolve().parent / "compat_modules"


def install() -> None:
    """Put ``COMPAT_DIR`` at the front of ``sys.path``, once."""
    entry = str(COMPAT_DIR)
    if entry not in sys.path:
        sys.path.insert(0, entry)
