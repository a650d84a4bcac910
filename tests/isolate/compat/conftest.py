"""The compat modules (``folder_paths``, ``comfy.*``, ``server``, ...) imported in-process for these tests only:
the compat folder goes on sys.path per test module and comes off again, the modules imported from it leave
``sys.modules``, and the child services start fresh for every test."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from isolate import child_services, compat_path


def _drop_compat_modules() -> None:
    root = str(compat_path.COMPAT_DIR)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "comfy_api":
            continue  # comfy_api is shared with the rest of the suite
        if (getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


@pytest.fixture(scope="module", autouse=True)
def compat_on_path() -> Iterator[None]:
    saved = list(sys.path)
    compat_path.install()
    try:
        yield
    finally:
        sys.path[:] = saved
        _drop_compat_modules()
        child_services.reset()


@pytest.fixture(autouse=True)
def fresh_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NODEHOST_FOLDERS unless a test sets one; fresh services and freshly imported modules per test."""
    monkeypatch.delenv(child_services.ENV_VAR, raising=False)
    child_services.reset()
    _drop_compat_modules()
    yield
    child_services.reset()


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A NODEHOST_FOLDERS configuration under ``tmp_path`` (folders made), set in the environment."""
    cfg = {
        "base_path": str(tmp_path / "base"),
        "output": str(tmp_path / "out"),
        "input": str(tmp_path / "in"),
        "temp": str(tmp_path / "tmp"),
        "user": str(tmp_path / "user"),
        "models_dir": str(tmp_path / "models"),
        "folders": {
            "checkpoints": [[str(tmp_path / "models" / "checkpoints"), str(tmp_path / "more_ckpts")],
                            [".safetensors", ".ckpt"]],
            "my_pack_models": [[str(tmp_path / "pack_models")], []],
        },
    }
    for key in ("output", "input", "temp", "user"):
        Path(cfg[key]).mkdir(parents=True)
    monkeypatch.setenv(child_services.ENV_VAR, json.dumps(cfg))
    return cfg


@pytest.fixture
def load() -> Any:
    """``load("folder_paths")``: import a compat module (after the test set its environment)."""

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    return load
