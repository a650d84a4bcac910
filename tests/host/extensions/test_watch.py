"""The pack watcher (host/extensions/watch.py) on real folders: which files count, the debounce (a pack must be
quiet for ``quiet`` seconds), edits made while a reload runs, stale bytecode."""

from __future__ import annotations

import os
import py_compile
from pathlib import Path

import pytest

from host.extensions.watch import PackWatcher, drop_stale_bytecode, snapshot

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def touch(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a later mtime, whatever the clock's resolution


def test_snapshot_counts_sources_only(tmp_path: Path) -> None:
    for rel in ("__init__.py", "nodes/a.py", "config.json", "requirements.txt", "web/x.js", "__pycache__/a.pyc",
                ".git/config.json", "nodes/__pycache__/b.py", "node_modules/m/index.json"):
        touch(tmp_path / rel, "x")
    assert sorted(snapshot(tmp_path)) == ["__init__.py", "config.json", "nodes/a.py", "requirements.txt"]
    assert snapshot(tmp_path / "missing") == {}
    touch(tmp_path.parent / f"{tmp_path.name}.deps.toml", "add = []")  # the user's manifest beside the pack
    touch(tmp_path.parent / "other.deps.toml", "add = []")
    assert sorted(snapshot(tmp_path))[0] == f"../{tmp_path.name}.deps.toml" and len(snapshot(tmp_path)) == 5


async def test_a_pack_is_reloaded_once_quiet(tmp_path: Path) -> None:
    pack_a, pack_b = tmp_path / "a", tmp_path / "b"
    touch(pack_a / "__init__.py", "1")
    touch(pack_b / "__init__.py", "1")
    calls: list[tuple[str, list[str]]] = []

    async def changed(name: str, files: list[str]) -> None:
        calls.append((name, files))

    clock = Clock()
    watcher = PackWatcher({"a": pack_a, "b": pack_b}, changed, quiet=1.0, clock=clock)
    await watcher.start()
    assert await watcher.poll() == []
    touch(pack_a / "__init__.py", "2")
    assert await watcher.poll() == []
    clock.now += 0.6
    touch(pack_a / "nodes.py", "new")  # still editing: the quiet time starts again
    assert await watcher.poll() == []
    clock.now += 0.6
    assert await watcher.poll() == []
    clock.now += 0.5
    assert await watcher.poll() == ["a"]
    assert calls == [("a", ["__init__.py", "nodes.py"])]
    clock.now += 5
    assert await watcher.poll() == []  # nothing new
    (pack_a / "nodes.py").unlink()
    await watcher.poll()
    clock.now += 1.0
    assert await watcher.poll() == ["a"] and calls[-1] == ("a", ["nodes.py"])


async def test_edits_during_a_reload_make_one_more(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    touch(pack / "__init__.py", "1")
    clock = Clock()
    calls: list[list[str]] = []

    async def changed(name: str, files: list[str]) -> None:
        calls.append(files)
        if len(calls) == 1:
            touch(pack / "late.py", "saved while the reload waited")
        else:
            raise RuntimeError("a reload that fails is logged, and watching goes on")

    watcher = PackWatcher({"p": pack}, changed, quiet=1.0, clock=clock)
    await watcher.start()
    touch(pack / "__init__.py", "2")
    await watcher.poll()
    clock.now += 1.0
    assert await watcher.poll() == ["p"]
    assert await watcher.poll() == []  # the late edit has its own quiet time
    clock.now += 1.0
    assert await watcher.poll() == ["p"]
    assert calls == [["__init__.py"], ["late.py"]]
    clock.now += 1.0
    assert await watcher.poll() == []


def test_stale_bytecode_of_changed_files_is_dropped(tmp_path: Path) -> None:
    for name in ("a", "b"):
        touch(tmp_path / f"{name}.py", "X = 1\n")
        py_compile.compile(str(tmp_path / f"{name}.py"),
                           cfile=str(tmp_path / "__pycache__" / f"{name}.cpython-311.pyc"))
    drop_stale_bytecode(tmp_path, ["a.py", "config.json", "gone/c.py"])
    assert sorted(p.name for p in (tmp_path / "__pycache__").iterdir()) == ["b.cpython-311.pyc"]


async def test_reload_pack_of_a_child_that_dies_at_import(tmp_path: Path) -> None:
    """reload_pack on a real child: an edit whose import kills the process keeps the old nodes and refuses calls
    with the reason; the next good edit rebinds and runs."""
    from host.extensions.packs import start_pack
    from host.extensions.remote import PackReloadFailed
    from host.extensions.watch import reload_pack
    from host.registry import Registry

    node = ('class {0}:\n    @classmethod\n    def INPUT_TYPES(cls):\n        return {{"required": {{}}}}\n'
            '    RETURN_TYPES = ("INT",)\n    FUNCTION = "run"\n    def run(self):\n        return ({1},)\n')
    pack = tmp_path / "dies_pack"
    touch(pack / "__init__.py", node.format("Seven", 7) + 'NODE_CLASS_MAPPINGS = {"Seven": Seven}\n')
    registry = Registry()
    runner, _ = await start_pack(registry, pack)
    try:
        registry.freeze()
        touch(pack / "__init__.py", "import os\nos._exit(3)\n")
        result = await reload_pack(registry, runner, ["__init__.py"])
        assert not result.ok and "3" in result.error and result.nodes == ["Seven"]
        assert list(registry.nodes) == ["Seven"] and runner.child is None
        with pytest.raises(PackReloadFailed, match="dies_pack"):
            await runner.validate("Seven", {})
        touch(pack / "__init__.py", node.format("Eight", 8) + 'NODE_CLASS_MAPPINGS = {"Eight": Eight}\n')
        result = await reload_pack(registry, runner, ["__init__.py"])
        assert result.ok and (result.added, result.removed) == (["Eight"], ["Seven"])
        assert runner.failed is None and list(registry.nodes) == ["Eight"]
        assert registry.failures == {}
    finally:
        await runner.close()
