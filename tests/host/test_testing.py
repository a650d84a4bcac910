"""host.testing, the pack authors' testing surface: a pack started isolated, a prompt run, outputs and errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from host.testing import find_pack_dir, isolated_pack

PACKS = Path(__file__).resolve().parents[1] / "packs"

pytestmark = pytest.mark.timeout(120)


async def test_a_pack_runs_isolated_and_reports_errors() -> None:
    async with isolated_pack(PACKS / "demo_pack") as pack:
        assert pack.failures == {} and "DemoAdd" in pack.nodes
        ok = await pack.run({"a": {"class_type": "DemoAdd", "inputs": {"a": 2, "b": 3}},
                             "s": {"class_type": "DemoShow", "inputs": {"value": ["a", 0]}}})
        assert ok.status == "success" and ok.outputs["s"]["text"] == ["5"]
        assert ok.outputs["s"]["pid"] != [os.getpid()]  # ran in the pack's own process
        crash = {"c": {"class_type": "DemoCrash", "inputs": {"how": "raise", "value": 1}},
                 "s": {"class_type": "DemoShow", "inputs": {"value": ["c", 0]}}}
        bad = await pack.run(crash)
        assert bad.status == "error" and bad.error is not None and bad.error["node_id"] == "c"
        invalid = await pack.run({"c": {"class_type": "DemoCrash", "inputs": {}}})
        assert invalid.status == "invalid" and invalid.error["error"]["type"] == "prompt_no_outputs"


async def test_a_broken_pack_says_why() -> None:
    async with isolated_pack(PACKS / "broken_pack") as pack:
        assert pack.nodes == [] and "this_module_does_not_exist" in pack.failures["<import>"]


def test_the_pack_of_a_test_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "p" / "tests").mkdir(parents=True)
    (tmp_path / "p" / "__init__.py").write_text("")
    (tmp_path / "p" / "tests" / "__init__.py").write_text("")
    assert find_pack_dir(tmp_path / "p" / "tests") == tmp_path / "p"
    with pytest.raises(LookupError):
        find_pack_dir(tmp_path / "elsewhere")
