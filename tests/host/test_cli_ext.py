"""``nodehost ext new | test | install | rebuild | remove``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from host.cli import main

PACKS = Path(__file__).resolve().parents[1] / "packs"
pytestmark = pytest.mark.timeout(300)


def registry_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


def flags(tmp_path: Path) -> list[str]:
    return ["--extensions-dir", str(tmp_path / "extensions"), "--envs-dir", str(tmp_path / "envs")]


def test_new_scaffolds_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ext", "new", "my_pack", *flags(tmp_path)]) == 0
    pack = tmp_path / "extensions" / "my_pack"
    assert {p.name for p in pack.iterdir()} == {"pyproject.toml", "__init__.py", "tests"}
    source = (pack / "__init__.py").read_text()
    assert "class MyPackBytes" in source and "class MyPackShout(io.ComfyNode)" in source
    assert main(["ext", "new", "my_pack", *flags(tmp_path)]) == 1  # never overwrites
    assert main(["ext", "new", "bad/name", *flags(tmp_path)]) == 1


@pytest.mark.registry
@pytest.mark.skipif(not registry_reachable(), reason="the package registry is not reachable")
def test_scaffolded_pack_tests_pass_in_its_environment(tmp_path: Path) -> None:
    assert main(["ext", "new", "my_pack", *flags(tmp_path)]) == 0
    assert main(["ext", "test", "my_pack", *flags(tmp_path)]) == 0


def test_install_rebuild_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ext", "install", str(PACKS / "demo_pack"), *flags(tmp_path), "--offline"]) == 0
    assert (tmp_path / "extensions" / "demo_pack" / "__init__.py").is_file()
    assert (tmp_path / "envs" / "demo_pack" / "bin" / "python").exists()
    assert main(["ext", "install", str(PACKS / "demo_pack"), *flags(tmp_path), "--offline"]) == 1  # exists
    assert main(["ext", "rebuild", "demo_pack", *flags(tmp_path), "--offline"]) == 0
    assert "environment rebuilt" in capsys.readouterr().out
    assert main(["ext", "remove", "demo_pack", *flags(tmp_path)]) == 0
    assert not (tmp_path / "extensions" / "demo_pack").exists() and not (tmp_path / "envs" / "demo_pack").exists()
    assert main(["ext", "remove", "demo_pack", *flags(tmp_path)]) == 1
