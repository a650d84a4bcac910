"""Shared fixtures: a registry with the builtin nodes writing into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from builtin_nodes import OutputPaths, load_builtin
from host.registry import Registry


@pytest.fixture
def paths(tmp_path: Path) -> OutputPaths:
    return OutputPaths(output_dir=tmp_path / "output", temp_dir=tmp_path / "temp")


@pytest.fixture
def registry(paths: OutputPaths) -> Registry:
    reg = Registry()
    load_builtin(reg, paths)
    return reg.freeze()
