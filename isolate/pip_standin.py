"""A ``pip`` inside every pack environment that installs with uv into that environment only.

Some packs install what they miss at import time (``subprocess.run([sys.executable, "-m", "pip", "install",
...])``). A pack venv has no pip of its own, and the host's pip, reached through the host site-packages the venv
sees, would uninstall and replace host packages. This stand-in (a ``pip`` package and ``bin/pip``) shadows the
host's pip and runs ``uv pip ... --python <the pack's python>``: uv writes only the pack's site-packages, and the
pack's torch-family excludes and the host's torch constraints apply as at build time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG = "nodehost-pip.json"

_MAIN = '''"""nodehost's pip stand-in for this pack environment (isolate/pip_standin.py): runs uv pip here."""

import json
import subprocess
import sys
from pathlib import Path

__version__ = "24.0+nodehost"
_CONFIG = Path(sys.prefix) / "{config}"
_DROP = {{"--user", "--disable-pip-version-check", "--no-warn-script-location", "--no-input", "-y", "--yes",
          "--no-python-version-warning", "--isolated"}}
_DROP_WITH_VALUE = {{"--progress-bar", "--root-user-action", "--cache-dir", "--timeout", "--retries"}}
_RENAME = {{"--no-cache-dir": "--no-cache"}}
_COMMANDS = {{"install", "uninstall", "list", "show", "freeze", "check"}}


def _translate(args):
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _DROP_WITH_VALUE:
            skip = "=" not in arg
            continue
        if name not in _DROP:
            out.append(_RENAME.get(arg, arg))
    return out


def main(args=None):
    args = _translate(list(sys.argv[1:] if args is None else args))
    if not args or args[0] in ("-V", "--version"):
        print(f"pip {{__version__}} (nodehost stand-in: uv pip into {{sys.prefix}})")
        return 0
    if args[0] not in _COMMANDS:
        print(f"pip {{args[0]}}: not available in a nodehost pack environment", file=sys.stderr)
        return 1
    config = json.loads(_CONFIG.read_text())
    cmd = [config["uv"], "pip", args[0], "--python", sys.executable]
    if args[0] == "install":
        cmd += config["install_options"]
    return subprocess.call(cmd + args[1:])
'''


def write_standin(site_packages: Path, env: Path, uv: str, install_options: list[str]) -> None:
    """Put the stand-in into ``site_packages`` and ``env/bin``; ``install_options`` are added to every install
    (excludes, constraints, find-links, offline flags)."""
    package = site_packages / "pip"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(_MAIN.format(config=CONFIG))
    (package / "__main__.py").write_text("import sys\n\nfrom pip import main\n\nsys.exit(main())\n")
    config: dict[str, Any] = {"uv": uv, "install_options": install_options}
    (env / CONFIG).write_text(json.dumps(config))
    for script in ("pip", "pip3"):
        path = env / "bin" / script
        path.write_text(f"#!{env / 'bin' / 'python'}\nimport sys\n\nfrom pip import main\n\nsys.exit(main())\n")
        path.chmod(0o755)
