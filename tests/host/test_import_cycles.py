"""No module of an engine package imports (even for type checking) a module that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_within(package: str) -> dict[str, set[str]]:
    folder = ROOT.joinpath(*package.split("."))
    modules = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name in modules:
        deps: set[str] = set()
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
                rest = node.module[len(package):].lstrip(".").split(".")[0]
                deps |= {rest} if rest else {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.Import):
                deps |= {a.name[len(package) + 1:].split(".")[0] for a in node.names
                         if a.name.startswith(package + ".")}
        graph[name] = deps & modules
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["host.executor", "host.server"])
def test_no_import_cycle(package: str) -> None:
    assert find_cycle(imports_within(package)) is None
