"""Reading what a pack declares: poetry tables, PEP 621, requirements.txt as pip reads it, the user's manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from isolate.pack_requirements import (
    PoetryConstraintError,
    poetry_constraint,
    read_pack_requirements,
    requirement_name,
)


@pytest.mark.parametrize(("poetry", "pep440"), [
    ("^1.25.1", ">=1.25.1,<2"), ("^1.2", ">=1.2,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("^0.0.3", ">=0.0.3,<0.0.4"),
    ("^0", ">=0,<1"), ("^0.0", ">=0.0,<0.1"), ("~1.2.3", ">=1.2.3,<1.3"), ("~1.2", ">=1.2,<1.3"), ("~1", ">=1,<2"),
    ("~=1.4", "~=1.4"), ("1.2.3", "==1.2.3"), ("1.2.*", "==1.2.*"), ("*", ""), (">= 1.2 < 2", ">=1.2,<2"),
    (">=1.2,<2.0,!=1.5", ">=1.2,!=1.5,<2.0"), ("^1 || ^2", ">=1,<3"),
])
def test_poetry_constraints_become_pep440(poetry: str, pep440: str) -> None:
    assert poetry_constraint(poetry) == pep440


def test_a_constraint_that_is_not_a_version_is_refused() -> None:
    with pytest.raises(PoetryConstraintError):
        poetry_constraint("^latest")


def numpy_range(lines: list[str]) -> SpecifierSet:
    """What every numpy line together allows (uv intersects them)."""
    spec = SpecifierSet()
    for line in lines:
        if requirement_name(line) == "numpy":
            spec &= Requirement(line).specifier
    return spec


def test_poetry_caret_keeps_a_comfymath_like_pack_on_numpy_1(tmp_path: Path) -> None:
    """ComfyMath's shape: requirements.txt says numpy, its poetry table says ^1.25.1 (<2)."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "comfymath"\n\n[tool.poetry.dependencies]\npython = "^3.10"\nnumpy = "^1.25.1"\n')
    (tmp_path / "requirements.txt").write_text("numpy\n")
    reqs = read_pack_requirements(tmp_path)
    assert not any(requirement_name(r) == "python" for r in reqs.requirements)
    allowed = numpy_range(reqs.requirements)
    assert allowed == SpecifierSet(">=1.25.1,<2")
    assert Version("1.26.4") in allowed and Version("2.0.0") not in allowed
    assert reqs.origins["numpy<2,>=1.25.1"] == "pyproject.toml [tool.poetry]"


def test_poetry_tables_extras_markers_git_path_and_optional(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "pyproject.toml").write_text("""
[tool.poetry.dependencies]
python = ">=3.9,<4"
pillow = { version = "~10.1", extras = ["xmp"] }
scipy = { version = "^1.11", python = "^3.9" }
opencv-python = { version = "*", markers = "sys_platform == 'linux'" }
tinylib = { git = "https://example.org/tinylib.git", tag = "v1.0" }
local = { path = "vendor" }
docs = { version = "^1", optional = true }
pair = [{ version = "^1", python = "<3.11" }, { version = "^2", python = ">=3.11" }]
""")
    lines = read_pack_requirements(tmp_path).requirements
    assert lines[0] == "pillow[xmp]<10.2,>=10.1"
    scipy = Requirement(lines[1])
    assert scipy.specifier == SpecifierSet(">=1.11,<2") and scipy.marker is not None
    assert scipy.marker.evaluate({"python_full_version": "3.12.1"})
    assert not scipy.marker.evaluate({"python_full_version": "3.8.10"})
    assert Requirement(lines[2]).marker is not None
    assert lines[3] == "tinylib @ git+https://example.org/tinylib.git@v1.0"
    assert Requirement(lines[4]).url == (tmp_path / "vendor").resolve().as_uri()
    assert not any(requirement_name(r) == "docs" for r in lines)
    pair = [Requirement(r) for r in lines if requirement_name(r) == "pair"]
    chosen = [r for r in pair if r.marker.evaluate({"python_full_version": "3.12.0"})]  # type: ignore[union-attr]
    assert [str(r.specifier) for r in chosen] == ["<3,>=2"]


def test_requirements_txt_as_pip_reads_it(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "more.txt").write_text("kornia>=0.7 # masks\n-r ../requirements.txt\n")
    (tmp_path / "pins.txt").write_text("kornia<0.8\n")
    (tmp_path / "requirements.txt").write_text(
        "# image filters\n"
        "opencv-python-headless[ffmpeg]<=4.7.0.72  # WAS pins this\n"
        "numpy \\\n  <2\n"
        "-r extra/more.txt\n"
        "--requirement=extra/more.txt\n"
        "-c pins.txt\n"
        "--extra-index-url https://download.example.org/simple\n"
        "--find-links wheels\n"
        "scipy; python_version >= '3.9'\n"
        "https://example.org/files/tinydep-1.0-py3-none-any.whl\n"
        "git+https://example.org/x/gitdep.git@v2#egg=gitdep\n"
        "-e ./vendor/editable\n"
        "segment_anything @ git+https://example.org/sam.git\n"
        "this is not == a requirement\n"
        "--hash-everything\n"
    )
    reqs = read_pack_requirements(tmp_path)
    assert reqs.requirements == [
        "opencv-python-headless[ffmpeg]<=4.7.0.72", "numpy<2", "kornia>=0.7", 'scipy; python_version >= "3.9"',
        "tinydep @ https://example.org/files/tinydep-1.0-py3-none-any.whl",
        "gitdep @ git+https://example.org/x/gitdep.git@v2",
        f"-e {(tmp_path / 'vendor' / 'editable').resolve()}", "segment_anything @ git+https://example.org/sam.git",
    ]
    assert reqs.origins["numpy<2"] == "requirements.txt:3" and reqs.origins["kornia>=0.7"] == "more.txt:1"
    assert reqs.constraints == ["kornia<0.8"]
    assert reqs.options == ["--extra-index-url", "https://download.example.org/simple",
                            "--find-links", str((tmp_path / "wheels").resolve())]
    assert len(reqs.problems) == 2
    assert "requirements.txt:15" in reqs.problems[0] and "--hash-everything" in reqs.problems[1]


def test_pep621_and_requirements_txt_merge(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["numpy<2", "pillow"]\n')
    (tmp_path / "requirements.txt").write_text("numpy<2\nopencv-python\n")
    assert read_pack_requirements(tmp_path).requirements == ["numpy<2", "pillow", "opencv-python"]


def test_manifest_adds_replaces_and_removes(tmp_path: Path) -> None:
    """A pack importing cv2 without declaring it, fixed by the user's <pack>.deps.toml."""
    (tmp_path / "requirements.txt").write_text("numpy<2\nkornia\nPillow\n")
    manifest = {"add": ["opencv-python-headless", "numpy>=2"], "remove": ["Kornia"]}
    assert read_pack_requirements(tmp_path, manifest).requirements == ["Pillow", "opencv-python-headless", "numpy>=2"]


def test_broken_pyproject_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    reqs = read_pack_requirements(tmp_path)
    assert reqs.requirements == ["numpy"] and "not valid TOML" in reqs.problems[0]


def test_bare_urls_in_pep621_dependencies_are_kept_as_pip_would(tmp_path: Path) -> None:
    """WAS node suite lists bare git URLs in [project].dependencies (not PEP 508, but pip and uv take them)."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["numpy", "git+https://example.org/x/ffmpy.git", "not a req ="]\n')
    reqs = read_pack_requirements(tmp_path)
    assert reqs.requirements == ["numpy", "git+https://example.org/x/ffmpy.git"]
    assert len(reqs.problems) == 1 and "pyproject.toml [project]" in reqs.problems[0]
