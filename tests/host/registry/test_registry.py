"""Registry: conflicts kept-first and recorded, broken classes recorded, frozen after load."""

from __future__ import annotations

import pytest

from host.registry import Registry
from isolate.local_runner import LocalRunner


def make_node(ret: str) -> type:
    class Node:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = (ret,)
        FUNCTION = "run"

        def run(self):
            return (1,)

    return Node


def test_conflict_keeps_first_and_records_both() -> None:
    reg = Registry()
    reg.add_classes({"Dup": make_node("INT")}, LocalRunner(), origin="pack_a")
    reg.add_classes({"Dup": make_node("FLOAT")}, LocalRunner(), origin="pack_b")
    assert reg.object_info("Dup")["Dup"]["output"] == ["INT"]
    [conflict] = reg.conflicts
    assert (conflict.name, conflict.kept, conflict.rejected) == ("Dup", "pack_a", "pack_b")


def test_broken_class_is_recorded_and_loading_goes_on() -> None:
    class Broken:
        @classmethod
        def INPUT_TYPES(cls):
            raise RuntimeError("cannot list models")

    reg = Registry()
    reg.add_classes({"Broken": Broken, "Fine": make_node("INT")}, LocalRunner())
    assert "Broken" in reg.failures and "cannot list models" in reg.failures["Broken"]
    assert reg.get("Fine") is not None and reg.get("Broken") is None


def test_frozen_registry_rejects_additions() -> None:
    reg = Registry().freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        reg.add_classes({"X": make_node("INT")}, LocalRunner())


def test_builtin_nodes_never_import_torch_at_load() -> None:
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from host.registry import Registry; "
            "from builtin_nodes import load_builtin, OutputPaths; "
            "load_builtin(Registry(), OutputPaths(Path('o'), Path('t'))); import host.cli; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_rebind_replaces_one_runners_nodes_in_place_even_when_frozen() -> None:
    from isolate.v1 import nodedef_from_v1

    reg = Registry()
    pack, other = LocalRunner(), LocalRunner()
    reg.add_classes({"Keep": make_node("INT"), "Gone": make_node("INT")}, pack, origin="pack")
    reg.add_classes({"Theirs": make_node("INT")}, other, origin="other")
    reg.freeze()
    before = reg.nodes
    new = [nodedef_from_v1(name, make_node(ret), None, "custom_nodes.pack", "pack")
           for name, ret in (("Keep", "FLOAT"), ("Fresh", "INT"), ("Theirs", "INT"))]
    added, removed, changed = reg.rebind(pack, new)
    assert (added, removed, changed) == (["Fresh"], ["Gone"], ["Keep"])
    assert list(reg.nodes) == ["Keep", "Theirs", "Fresh"]  # /object_info keeps its order
    assert reg.nodes["Keep"].nodedef.info["output"] == ["FLOAT"] and reg.nodes["Keep"].runner is pack
    assert reg.nodes["Theirs"].runner is other  # another pack's name is not taken over
    assert [(c.name, c.kept) for c in reg.conflicts] == [("Theirs", "other")]
    assert before is not reg.nodes and "Gone" in before  # a prompt holding the old table keeps it
