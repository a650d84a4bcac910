"""Small random checkpoints written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.models.testing.make_checkpoint import make_checkpoint


@pytest.fixture(scope="session")
def sd15_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint("sd15", "small", tmp_path_factory.mktemp("ckpt") / "sd15_small.safetensors")


@pytest.fixture(scope="session")
def sd21_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint("sd21", "small", tmp_path_factory.mktemp("ckpt") / "sd21_small.safetensors")


@pytest.fixture(scope="session")
def sdxl_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint("sdxl", "small", tmp_path_factory.mktemp("ckpt") / "sdxl_small.safetensors")


@pytest.fixture(scope="session")
def sdxl_refiner_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint("sdxl_refiner", "small", tmp_path_factory.mktemp("ckpt") / "sdxl_refiner_small.safetensors")
