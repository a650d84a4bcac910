"""extra_model_paths.yaml custom_nodes folders, and per-pack dependency manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from host.cli import main
from host.extensions.loader import read_manifest
from host.extensions.model_paths import custom_node_dirs

PACKS = Path(__file__).resolve().parents[2] / "packs"


def test_custom_node_dirs_resolve_like_comfyui(tmp_path: Path) -> None:
    config = tmp_path / "extra_model_paths.yaml"
    config.write_text("comfyui:\n  base_path: base\n  checkpoints: models/checkpoints\n"
                      "  custom_nodes: |\n    custom_nodes\n    /abs/packs\nother:\n  custom_nodes: more\n")
    assert custom_node_dirs(config) == [(tmp_path / "base" / "custom_nodes").resolve(), Path("/abs/packs"),
                                        (tmp_path / "more").resolve()]


def test_run_loads_packs_from_a_yaml_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(PACKS / "demo_pack", tmp_path / "comfy" / "custom_nodes" / "demo_pack")
    config = tmp_path / "extra_model_paths.yaml"
    config.write_text("comfyui:\n  base_path: comfy\n  custom_nodes: custom_nodes\n")
    prompt = tmp_path / "p.json"
    prompt.write_text('{"1": {"class_type": "DemoAdd", "inputs": {"a": 1, "b": 1}},'
                      ' "2": {"class_type": "DemoShow", "inputs": {"value": ["1", 0]}}}')
    rc = main(["run", str(prompt), "--output-directory", str(tmp_path / "o"), "--extensions-dir",
               str(tmp_path / "none"), "--envs-dir", str(tmp_path / "envs"), "--offline",
               "--extra-model-paths-config", str(config)])
    assert rc == 0 and '"text": ["2"]' in capsys.readouterr().out


def test_manifest_adds_and_removes_requirements(tmp_path: Path) -> None:
    (tmp_path / "p.deps.toml").write_text('add = ["opencv-python-headless"]\nremove = ["kornia"]\n')
    assert read_manifest(tmp_path, "p") == {"add": ["opencv-python-headless"], "remove": ["kornia"]}
    assert read_manifest(tmp_path, "q") is None
