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


#: the compat packages the host process gets too: none of them shadows a host module
HOST_PACKAGES = ("comfy_api", "comfy_execution")


def install_api() -> None:
    """The host's share: ``comfy_api`` (an alias onto isolate.api, for in-process v3 code) and
    ``comfy_execution`` (graph_utils, jobs...), without putting the child-side modules (``server``, ``nodes``,
    ``folder_paths``...) ahead of the host's own."""
    import importlib.util

    for name in HOST_PACKAGES:
        if name in sys.modules:
            continue
        init = COMPAT_DIR / name / "__init__.py"
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
