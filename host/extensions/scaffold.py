"""``nodehost ext new NAME``: a pack to start from (a dependency, one v1 node, one v3 node, a test that runs
the pack isolated through nodehost)."""

from __future__ import annotations

from pathlib import Path

PYPROJECT = '''[project]
name = "{name}"
version = "0.1.0"
description = "A nodehost / ComfyUI node pack"
requires-python = ">=3.11"
# the pack's own dependencies: installed into its environment, never torch (the host provides it)
dependencies = ["humanize>=4"]
'''

INIT = '''"""{name}: a node pack. Runs in its own process and environment under nodehost."""

import humanize
from comfy_api.latest import io


class {cls}Bytes:
    """v1 API: a number of bytes as text, e.g. 2.0 MB."""

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{"size": ("INT", {{"default": 2000000, "min": 0}})}}}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    CATEGORY = "{name}"

    def run(self, size):
        return (humanize.naturalsize(size),)


class {cls}Shout(io.ComfyNode):
    """v3 API: the text in capitals, shown in the UI."""

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="{cls}Shout", display_name="Shout", category="{name}", is_output_node=True,
                         inputs=[io.String.Input("text")], outputs=[io.String.Output()])

    @classmethod
    def execute(cls, text):
        return io.NodeOutput(text.upper(), ui={{"text": [text.upper()]}})


NODE_CLASS_MAPPINGS = {{"{cls}Bytes": {cls}Bytes, "{cls}Shout": {cls}Shout}}
'''

TEST = '''"""Runs the pack isolated, through nodehost, as it runs in a workflow: ``nodehost ext test {name}``.

Uses only host.testing, nodehost's stable testing surface for packs."""

from pathlib import Path

from host.testing import isolated_pack

PACK = Path(__file__).resolve().parents[1]


async def test_nodes_run_isolated() -> None:
    async with isolated_pack(PACK) as pack:
        assert pack.failures == {{}}
        prompt = {{"b": {{"class_type": "{cls}Bytes", "inputs": {{"size": 2000000}}}},
                  "s": {{"class_type": "{cls}Shout", "inputs": {{"text": ["b", 0]}}}}}}
        result = await pack.run(prompt)
        assert result.status == "success", result.error
        assert result.outputs["s"] == {{"text": ["2.0 MB"]}}


async def test_with_the_fixture(nodehost_pack) -> None:
    assert sorted(nodehost_pack.nodes) == ["{cls}Bytes", "{cls}Shout"]
'''


def class_prefix(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part) or "Pack"


def create_pack(ext_dir: Path, name: str) -> Path:
    """Write the scaffold to ``ext_dir/name``; refuses to overwrite an existing folder."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"pack names are letters, digits, '_' and '-': {name!r}")
    pack = ext_dir / name
    if pack.exists():
        raise FileExistsError(f"{pack} already exists")
    cls = class_prefix(name)
    (pack / "tests").mkdir(parents=True)
    (pack / "pyproject.toml").write_text(PYPROJECT.format(name=name))
    (pack / "__init__.py").write_text(INIT.format(name=name, cls=cls))
    (pack / "tests" / f"test_{name.replace('-', '_')}.py").write_text(TEST.format(name=name, cls=cls))
    return pack
