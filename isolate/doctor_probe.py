"""Run inside a pack's venv by ``nodehost ext doctor``: which of the given host modules and symbols the child's
compat modules provide. Reads ``{module: [symbols]}`` as JSON on stdin, prints ``{module: missing}`` where
missing is ``"module"`` (the module cannot be imported) or the list of missing symbols."""

from __future__ import annotations

import importlib
import json
import sys


def probe(wanted: dict[str, list[str]]) -> dict[str, object]:
    from isolate.compat_path import install
    from isolate.standins import STANDIN_ROOTS

    install()
    missing: dict[str, object] = {}
    for module, symbols in sorted(wanted.items()):
        try:
            mod = importlib.import_module(module)
        except Exception:  # noqa: BLE001  (any failure: the pack would not get the module)
            missing[module] = "standin" if "." in module and module.split(".")[0] in STANDIN_ROOTS else "module"
            continue
        absent = [s for s in symbols if not hasattr(mod, s) and not _submodule(module, s)]
        if absent:
            missing[module] = absent
    return missing


def _submodule(module: str, name: str) -> bool:
    try:
        importlib.import_module(f"{module}.{name}")
        return True
    except Exception:  # noqa: BLE001
        return False


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.stdin.read()))))
