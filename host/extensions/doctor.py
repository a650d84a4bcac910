"""``nodehost ext doctor NAME``: one pack's environment and what it needs that nodehost lacks.

Prints what its environment was built from (each requirement and where it was declared, what is installed in
the venv, the ComfyUI base packages and torch family the host provides), the ComfyUI modules and symbols its
sources import that nodehost does not provide (a static scan, checked inside the pack's venv, plus what the
import hook saw while it loaded), and its node classes: registered versus defined in its sources.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from collections.abc import Collection
from pathlib import Path
from typing import Any

from isolate.comfy_base import LEFT_OUT, provided
from isolate.import_watch import HOST_MODULES, TORCH_FAMILY


def scan_imports(pack_dir: Path) -> dict[str, set[str]]:
    """``{host module: {symbols imported from it}}`` over the pack's .py files (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted(pack_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in HOST_MODULES:
                        found.setdefault(alias.name, set())
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in HOST_MODULES:
                    found.setdefault(node.module, set()).update(a.name for a in node.names if a.name != "*")
    return found


def defined_node_classes(pack_dir: Path) -> list[str]:
    """Classes in the pack's sources that look like nodes (a ``FUNCTION`` attribute or a ``define_schema``)."""
    names = []
    for path in sorted(pack_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(_is_node_member(item) for item in node.body):
                names.append(node.name)
    return names


def _is_node_member(item: ast.stmt) -> bool:
    if isinstance(item, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "FUNCTION" for t in item.targets)
    return isinstance(item, ast.FunctionDef) and item.name == "define_schema"


def missing_in_env(python: Path, wanted: dict[str, set[str]]) -> dict[str, Any]:
    """Ask the pack's own python which of ``wanted`` the compat modules lack (isolate/doctor_probe.py)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    out = subprocess.run([str(python), "-I", "-m", "isolate.doctor_probe"], capture_output=True, text=True,
                         input=json.dumps({m: sorted(s) for m, s in wanted.items()}), env=clean, timeout=120)
    if out.returncode != 0:
        return {"<probe>": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def installed(env: Path) -> list[str]:
    """``name version`` of each distribution in the venv's own site-packages."""
    found = []
    for info in sorted(env.glob("lib/python*/site-packages/*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found.append(f"{name} {version}")
    return found


def report(status: Any, reqs: Any, host_nodes: Collection[str] = ()) -> list[str]:
    """The doctor's lines for one loaded pack (``status``: PackStatus, ``reqs``: PackRequirements;
    ``host_nodes``: the node names the host has, which ``comfy_extras`` imports resolve to)."""
    lines = [f"pack {status.name}: {status.state}" + (f" ({status.reason})" if status.reason else ""),
             f"  folder: {status.path}"]
    lines += ["environment:", f"  venv: {status.env.path if status.env else '(not built)'}", "  requirements:"]
    lines += [f"    {r}    [{reqs.origins.get(r, '?')}]" for r in reqs.requirements] or ["    (none declared)"]
    lines += [f"  skipped: {p}" for p in reqs.problems]
    if status.env is not None:
        lines += ["  installed in the venv:"] + [f"    {d}" for d in installed(status.env.path)] or []
    base = provided()
    lines.append("  from the host (ComfyUI's base packages): " + ", ".join(
        f"{d} {v}" if v else f"{d} (MISSING)" for d, v in base.items()))
    lines += left_out_lines()
    lines.append("  torch family (the host's): " + ", ".join(f"{d} {_version(d) or '(not in the host)'}"
                                                         for d in sorted(TORCH_FAMILY)))
    lines += [f"  note: {n}" for n in status.notes]
    lines += _host_modules(status, frozenset(host_nodes))
    defined = defined_node_classes(status.path)
    lines += [f"nodes: {len(status.nodes)} registered, {len(defined)} node classes defined in its sources"]
    lines += [f"  registered: {', '.join(status.nodes) or '(none)'}"]
    return lines


def _host_modules(status: Any, host_nodes: frozenset[str]) -> list[str]:
    wanted = scan_imports(status.path)
    lines = ["ComfyUI modules it imports that nodehost lacks:"]
    if status.env is None:
        return lines + ["  (environment not built: cannot check)"]
    missing = missing_in_env(status.env.python, wanted)
    for module, what in missing.items():
        lines.append(f"  {module}: " + _describe(module, what, sorted(wanted.get(module, ())), host_nodes))
    if not missing:
        lines.append(f"  none ({len(wanted)} imported modules checked)")
    return lines


def _describe(module: str, what: Any, symbols: list[str], host_nodes: frozenset[str]) -> str:
    """One module's line: what the pack gets for each name it imports from it."""
    if what == "module":
        return "module not provided (its import fails)"
    if what == "standin" and module.startswith("comfy_extras.") and symbols:
        ours = [s for s in symbols if s in host_nodes]
        rest = [s for s in symbols if s not in host_nodes]
        parts = [f"{', '.join(ours)}: the host's node (runs on the host)"] if ours else []
        parts += [f"{', '.join(rest)}: a stand-in (imports; raises NotProvidedError when used)"] if rest else []
        return "; ".join(parts)
    if what == "standin":
        return "a stand-in module (imports; each name raises NotProvidedError when used)"
    return f"lacks {', '.join(what)} (stand-ins: the import works, using them raises NotProvidedError)"


def left_out_lines() -> list[str]:
    """ComfyUI's base packages nodehost does not depend on: seen through the host's site-packages when installed
    there anyway (spandrel beside a matching torchvision), else not provided, and why."""
    return [f"  from the host (installed beside nodehost): {d} {v}" if (v := _version(d)) else
            f"  not provided: {d} ({why})" for d, why in LEFT_OUT.items()]


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
