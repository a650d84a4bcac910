"""Shared fixtures: registries with the builtin nodes (writing into a temporary folder) and test nodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from builtin_nodes import OutputPaths, load_builtin
from host.executor.events import ListSink
from host.executor.executor import Executor
from host.registry import Registry
from isolate.local_runner import LocalRunner


@pytest.fixture
def paths(tmp_path: Path) -> OutputPaths:
    return OutputPaths(output_dir=tmp_path / "output", temp_dir=tmp_path / "temp")


@pytest.fixture
def registry(paths: OutputPaths) -> Registry:
    reg = Registry()
    load_builtin(reg, paths)
    return reg.freeze()


@pytest.fixture
def make_registry(paths: OutputPaths) -> Callable[..., Registry]:
    """A registry with the builtin nodes plus the given test classes ({name: class})."""

    def make(classes: dict[str, type] | None = None) -> Registry:
        reg = Registry()
        load_builtin(reg, paths)
        reg.add_classes(classes or {}, LocalRunner(), origin="tests", python_module="custom_nodes.tests")
        return reg.freeze()

    return make


@pytest.fixture
def make_executor(make_registry: Callable[..., Registry]) -> Callable[..., tuple[Executor, ListSink]]:
    def make(classes: dict[str, type] | None = None) -> tuple[Executor, ListSink]:
        sink = ListSink()
        return Executor(make_registry(classes), sink), sink

    return make
