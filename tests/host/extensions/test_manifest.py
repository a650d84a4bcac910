"""The per-pack manifest ``<extensions>/<pack>.deps.toml``: the documented example reads as documented, and a
pack that imports what it does not declare loads once the manifest adds it (environment rebuilt)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from host.extensions.loader import load_extensions, read_manifest
from host.registry import Registry
from isolate.pack_requirements import read_pack_requirements
from isolate.venv import VenvBuilder

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("wheels", ROOT / "tests" / "isolate" / "wheels.py")
wheels = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(wheels)  # type: ignore[union-attr]

pytestmark = pytest.mark.timeout(240)

UNDECLARED = '''
import tinycv  # imported, never declared


class Blur:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"

    def run(self):
        return (tinycv.__version__,)


NODE_CLASS_MAPPINGS = {"Blur": Blur}
'''


def documented_manifest(doc: Path) -> tuple[str, str]:
    """(where the example says the file goes, its text)"""
    block = re.search(r"```toml\n(# (extensions/\S+\.deps\.toml)\n.*?)```", doc.read_text(), re.S)
    assert block is not None, f"{doc} shows no manifest example"
    return block.group(2), block.group(1)


@pytest.mark.parametrize("doc", ["docs/extensions.md", "README.md"])
def test_documented_manifest_does_what_the_docs_say(doc: str, tmp_path: Path) -> None:
    where, text = documented_manifest(ROOT / doc)
    ext = tmp_path / "extensions"
    (ext / "my_filters").mkdir(parents=True)
    (ext / "my_filters" / "requirements.txt").write_text("opencv-python-headless\nopencv-contrib-python\nPillow\n")
    (tmp_path / where).write_text(text)
    manifest = read_manifest(ext, "my_filters")
    assert manifest == tomllib.loads(text)
    lines = read_pack_requirements(ext / "my_filters", manifest).requirements
    assert "opencv-python-headless>=4.8" in lines and "opencv-python-headless" not in lines and "Pillow" in lines
    assert all(not line.startswith(name) for name in manifest.get("remove", []) for line in lines)


async def test_manifest_adds_an_undeclared_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    wheelhouse = tmp_path / "wheels"
    wheels.make_wheel(wheelhouse, "tinycv", "4.8.0", "__version__ = '4.8.0'\n")
    ext = tmp_path / "extensions"
    (ext / "my_filters").mkdir(parents=True)
    (ext / "my_filters" / "__init__.py").write_text(UNDECLARED)
    builder = VenvBuilder(tmp_path / "envs")
    runners, statuses = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True)
    assert statuses[0].state == "failed" and "No module named 'tinycv'" in statuses[0].reason
    (ext / "my_filters.deps.toml").write_text('add = ["tinycv>=4.8"]\n')
    runners, statuses = await load_extensions(Registry(), ext, builder, find_links=[str(wheelhouse)], offline=True)
    try:
        assert statuses[0].state == "ready" and statuses[0].nodes == ["Blur"]
        assert statuses[0].env is not None and statuses[0].env.built  # the manifest changed the environment
    finally:
        for runner in runners:
            await runner.close()
