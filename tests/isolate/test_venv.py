"""Pack environments built with uv, offline from wheels made here: own packages win, torch is the host's."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from isolate.venv import EnvSpec, VenvBuilder, VenvBuildError, read_requirements

spec = importlib.util.spec_from_file_location("wheels", Path(__file__).with_name("wheels.py"))
wheels = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(wheels)  # type: ignore[union-attr]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    out = tmp_path / "wheels"
    wheels.make_wheel(out, "tinydep", "1.0.0", "__version__ = '1.0.0'\n")
    wheels.make_wheel(out, "tinydep", "2.0.0", "__version__ = '2.0.0'\n")
    wheels.make_wheel(out, "packtool", "0.1", "import tinydep\n", requires=["tinydep<2"])
    wheels.make_wheel(out, "numpy", "0.0.1", "__version__ = '0.0.1-pack'\n")
    return out


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VenvBuilder:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    return VenvBuilder(tmp_path / "envs")


def run_in(env_python: Path, code: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    out = subprocess.run([str(env_python), "-I", "-c", code], capture_output=True, text=True, env=clean, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_two_packs_two_versions_of_one_package(builder: VenvBuilder, wheelhouse: Path) -> None:
    async def build() -> tuple:
        a = EnvSpec("pack_a", ["tinydep==1.0.0"], [str(wheelhouse)], offline=True)
        b = EnvSpec("pack_b", ["tinydep>=2"], [str(wheelhouse)], offline=True)
        return await asyncio.gather(builder.ensure(a), builder.ensure(b))

    env_a, env_b = asyncio.run(build())
    assert env_a.built and env_b.built
    code = "import tinydep, torch; print(tinydep.__version__, torch.__version__.split('+')[0])"
    import torch

    host_torch = torch.__version__.split("+")[0]
    assert run_in(env_a.python, code) == f"1.0.0 {host_torch}"
    assert run_in(env_b.python, code) == f"2.0.0 {host_torch}"


def test_pack_copy_of_a_host_package_wins(builder: VenvBuilder, wheelhouse: Path) -> None:
    env = asyncio.run(builder.ensure(EnvSpec("pack_np", ["numpy==0.0.1"], [str(wheelhouse)], offline=True)))
    assert run_in(env.python, "import numpy; print(numpy.__version__)") == "0.0.1-pack"
    import numpy

    assert numpy.__version__ != "0.0.1-pack"  # the host keeps its own


def test_dependencies_resolve_and_torch_is_never_installed(builder: VenvBuilder, wheelhouse: Path) -> None:
    env = asyncio.run(builder.ensure(EnvSpec("pack_t", ["packtool", "torch"], [str(wheelhouse)], offline=True)))
    assert run_in(env.python, "import tinydep; print(tinydep.__version__)") == "1.0.0"
    site = next((env.path / "lib").glob("python*/site-packages"))
    assert not any(p.name.startswith("torch") for p in site.iterdir())


def test_environment_is_cached_until_its_inputs_change(builder: VenvBuilder, wheelhouse: Path) -> None:
    spec_ = EnvSpec("pack_c", ["tinydep==1.0.0"], [str(wheelhouse)], offline=True)
    assert asyncio.run(builder.ensure(spec_)).built
    again = asyncio.run(builder.ensure(spec_))
    assert not again.built
    changed = asyncio.run(builder.ensure(EnvSpec("pack_c", ["tinydep==2.0.0"], [str(wheelhouse)], offline=True)))
    assert changed.built and changed.digest != again.digest
    assert run_in(changed.python, "import tinydep; print(tinydep.__version__)") == "2.0.0"


def test_unresolvable_dependency_is_a_clear_error(builder: VenvBuilder, wheelhouse: Path) -> None:
    with pytest.raises(VenvBuildError) as info:
        asyncio.run(builder.ensure(EnvSpec("pack_bad", ["tinydep==9.9"], [str(wheelhouse)], offline=True)))
    assert info.value.pack == "pack_bad" and "tinydep" in info.value.log
    assert builder.cached(EnvSpec("pack_bad", ["tinydep==9.9"], [str(wheelhouse)], offline=True)) is None


def test_a_torch_the_host_lacks_is_refused(builder: VenvBuilder) -> None:
    with pytest.raises(VenvBuildError, match="host's torch is"):
        asyncio.run(builder.ensure(EnvSpec("pack_new_torch", ["torch>=99"], offline=True)))


def test_read_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["numpy<2", "pillow"]\n')
    (tmp_path / "requirements.txt").write_text("# comment\nopencv-python  # cv2\nkornia\n")
    assert read_requirements(tmp_path) == ["numpy<2", "pillow", "opencv-python", "kornia"]
    manifest = {"add": ["numpy>=2", "scipy"], "remove": ["kornia"]}
    assert read_requirements(tmp_path, manifest) == ["pillow", "opencv-python", "numpy>=2", "scipy"]


def test_poetry_caret_range_is_installed(builder: VenvBuilder, tmp_path: Path) -> None:
    """Issue 14.6: a pack declaring ``numpy = "^1.25.1"`` in its poetry table gets numpy 1.x, not 2."""
    out = tmp_path / "np-wheels"
    for version in ("1.26.4", "2.1.0"):
        wheels.make_wheel(out, "numpy", version, f"__version__ = '{version}'\n")
    pack = tmp_path / "mathpack"
    pack.mkdir()
    (pack / "pyproject.toml").write_text('[tool.poetry.dependencies]\npython = "^3.10"\nnumpy = "^1.25.1"\n')
    (pack / "requirements.txt").write_text("numpy\n")
    spec_ = EnvSpec("mathpack", read_requirements(pack), [str(out)], offline=True)
    env = asyncio.run(builder.ensure(spec_))
    assert run_in(env.python, "import numpy; print(numpy.__version__)") == "1.26.4"


def test_python_executable_is_the_hosts(builder: VenvBuilder, wheelhouse: Path) -> None:
    env = asyncio.run(builder.ensure(EnvSpec("pack_py", [], offline=True)))
    assert run_in(env.python, "import sys; print(sys.version_info[:2])") == str(sys.version_info[:2])
