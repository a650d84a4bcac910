"""Nodes of a pack running in its own process, through the same runner protocol (real child processes)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from pathlib import Path

import pytest

from builtin_nodes import load_builtin
from host.executor.events import Executing, ExecutionError, ListSink, NodeState, Progress, ProgressPreview
from host.executor.executor import Executor
from host.extensions.packs import start_pack
from host.registry import Registry

PACKS = Path(__file__).resolve().parents[2] / "packs"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def pack(paths):
    registry = Registry()
    load_builtin(registry, paths)
    folders = {"output": str(paths.output_dir), "temp": str(paths.temp_dir)}
    runner, info = await start_pack(registry, PACKS / "demo_pack", folders=folders)
    registry.freeze()
    sink = ListSink()
    yield Executor(registry, sink), sink, runner, info
    await runner.close()


def add(a, b=1) -> dict:
    return {"class_type": "DemoAdd", "inputs": {"a": a, "b": b}}


def show(src: str) -> dict:
    return {"class_type": "DemoShow", "inputs": {"value": [src, 0]}}


async def test_pack_nodes_register_with_their_definitions(pack) -> None:
    executor, _, runner, info = pack
    names = {n.name for n in info.nodes}
    assert {"DemoAdd", "DemoShow", "DemoV3Twice"} <= names and info.failures == {}
    entry = executor.registry.object_info("DemoAdd")["DemoAdd"]
    assert entry["display_name"] == "Demo Add" and entry["python_module"] == "custom_nodes.demo_pack"
    assert executor.registry.get("DemoAdd").runner is runner
    assert info.web_directory == "./web"


async def test_isolated_chain_runs_in_the_child(pack) -> None:
    executor, sink, runner, _ = pack
    prompt = {"1": add(2, 3), "2": {"class_type": "DemoAdd", "inputs": {"a": ["1", 0], "b": 10}}, "s": show("2")}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["s"]["text"] == ["15"]
    assert result.outputs["s"]["pid"] == [runner.child.pid]
    stderr = b"".join(runner.stderr)
    assert b"demo_pack prints to stdout at import" in stderr and b"DemoAdd running: 2 + 3" in stderr


async def test_mixed_builtin_and_isolated_nodes(pack) -> None:
    executor, _, _, _ = pack
    prompt = {"1": {"class_type": "PrimitiveInt", "inputs": {"value": 4}},
              "2": {"class_type": "DemoV3Twice", "inputs": {"v": ["1", 0]}},
              "s": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["s"]["text"] == ["8"]


async def test_v3_hidden_values_reach_the_child(pack) -> None:
    executor, _, _, _ = pack
    prompt = {"t": {"class_type": "DemoV3Twice", "inputs": {"v": 1}}, "s": show("t")}
    result = await executor.run(prompt, "p")
    assert result.outputs["t"] == {"who": ["t"]}


async def test_validate_inputs_runs_in_the_child(pack) -> None:
    from host.executor.errors import ValidationFailed

    executor, _, _, _ = pack
    with pytest.raises(ValidationFailed) as info:
        await executor.run({"g": {"class_type": "DemoGate", "inputs": {"value": 13, "open": True}},
                            "s": show("g")}, "p")
    assert info.value.node_errors["g"].errors[0].details == "value - 13 is unlucky"


async def test_blocker_from_the_child(pack) -> None:
    executor, sink, _, _ = pack
    result = await executor.run({"g": {"class_type": "DemoGate", "inputs": {"value": 1, "open": False}},
                                 "s": show("g")}, "p")
    assert result.status == "success" and "s" not in result.outputs
    assert sink.of(ExecutionError)[0].exception_message == "Execution Blocked: gate closed"


async def test_lazy_inputs_and_expansion_in_the_child(pack) -> None:
    executor, sink, _, _ = pack
    prompt = {"y": add(1), "n": add(100), "sw": {"class_type": "DemoSwitch", "inputs": {
        "pick": True, "yes": ["y", 0], "no": ["n", 0]}}, "x": {"class_type": "DemoExpand", "inputs": {
            "start": ["sw", 0], "n": 3}}, "s": show("x")}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["s"]["text"] == ["32"]
    assert "n" not in {e.node for e in sink.of(Executing)}


async def test_one_instance_per_node_in_the_child(pack) -> None:
    executor, _, _, _ = pack
    prompt = {"c": {"class_type": "DemoCount", "inputs": {"x": 1}}, "s": show("c")}
    first = await executor.run(prompt, "a")
    prompt["c"]["inputs"]["x"] = 2  # same node id, new input: the same instance runs again
    second = await executor.run(prompt, "b")
    assert first.outputs["s"]["text"] == ["1"] and second.outputs["s"]["text"] == ["2"]


async def test_async_isolated_nodes_overlap(pack) -> None:
    executor, sink, _, _ = pack
    prompt = {"a": {"class_type": "DemoSleep", "inputs": {"seconds": 0.3, "value": 1}},
              "b": {"class_type": "DemoSleep", "inputs": {"seconds": 0.3, "value": 2}},
              "sa": show("a"), "sb": show("b")}
    result = await executor.run(prompt, "p")
    assert result.status == "success"
    order = [(type(e).__name__, getattr(e, "node", None) or e.node_id) for e in sink.events
             if isinstance(e, Executing) or (isinstance(e, NodeState) and e.state == "finished")]
    first_finish = min(i for i, (kind, node) in enumerate(order) if kind == "NodeState" and node in ("a", "b"))
    assert {node for kind, node in order[:first_finish] if kind == "Executing"} >= {"a", "b"}


async def test_progress_from_the_child(pack) -> None:
    executor, sink, _, _ = pack
    result = await executor.run({"p": {"class_type": "DemoProgress", "inputs": {"steps": 3, "delay": 0.0}},
                                 "s": show("p")}, "pp")
    assert result.status == "success"
    await asyncio.sleep(0.05)
    assert [(e.value, e.max, e.node, e.prompt_id) for e in sink.of(Progress)] == [
        (1, 3, "p", "pp"), (2, 3, "p", "pp"), (3, 3, "p", "pp")]
    [preview] = sink.of(ProgressPreview)  # the preview image crossed too
    fmt, image, max_size = preview.image
    assert (preview.node_id, fmt, image.size, max_size) == ("p", "JPEG", (64, 32), 512)


async def test_interrupt_reaches_code_in_the_child(pack) -> None:
    executor, sink, _, _ = pack

    async def interrupt_soon() -> None:
        await asyncio.sleep(0.3)
        executor.interrupt()

    task = asyncio.ensure_future(interrupt_soon())
    result = await executor.run({"p": {"class_type": "DemoProgress", "inputs": {"steps": 400, "delay": 0.01}},
                                 "s": show("p")}, "pp")
    await task
    assert result.status == "interrupted"
    assert len(sink.of(Progress)) < 400


async def test_node_exception_in_the_child_is_typed(pack) -> None:
    executor, sink, _, _ = pack
    result = await executor.run({"c": {"class_type": "DemoCrash", "inputs": {"how": "raise", "value": 5}},
                                 "s": show("c")}, "p")
    assert result.status == "error"
    err = sink.of(ExecutionError)[0]
    assert (err.node_id, err.exception_type, err.exception_message) == ("c", "ValueError", "demo failure with 5")


@pytest.mark.parametrize(("how", "status"), [("exit", "exited with status 7"), ("sigkill", "killed by signal 9"),
                                             ("segfault", "killed by signal 11")])
async def test_crashing_child_fails_the_prompt_and_is_restarted(pack, how: str, status: str) -> None:
    executor, sink, runner, _ = pack
    old_pid = runner.child.pid
    result = await executor.run({"c": {"class_type": "DemoCrash", "inputs": {"how": how, "value": 1}},
                                 "s": show("c")}, "p")
    assert result.status == "error"
    err = sink.of(ExecutionError)[0]
    assert err.exception_type == "ExtensionCrashed" and "demo_pack" in err.exception_message
    assert status in err.exception_message
    ok = await executor.run({"1": add(1, 1), "s": show("1")}, "q")  # the next prompt runs normally
    assert ok.status == "success" and ok.outputs["s"]["text"] == ["2"]
    assert runner.child.pid != old_pid


async def test_pack_that_fails_to_import(paths) -> None:
    registry = Registry()
    runner, info = await start_pack(registry, PACKS / "broken_pack")
    try:
        assert info.nodes == [] and "this_module_does_not_exist" in info.failures["<import>"]
        assert "broken_pack:<import>" in registry.failures
    finally:
        await runner.close()


def test_children_die_with_a_host_killed_by_sigkill() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    host = subprocess.Popen([sys.executable, str(Path(__file__).with_name("host_app.py")), str(PACKS / "demo_pack")],
                            stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(host.stdout.readline())
        os.kill(child_pid, 0)  # alive
        host.send_signal(signal.SIGKILL)
        host.wait(10)
        for _ in range(200):
            try:
                os.kill(child_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.025)
        else:
            pytest.fail("the child outlived its host")
    finally:
        host.kill()
        host.stdout.close()


async def test_tensors_cross_through_shared_memory_both_ways(pack) -> None:
    executor, _, runner, _ = pack
    prompt = {"e": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 8, "batch_size": 2,
                                                           "color": 0x336699}},
              "i": {"class_type": "DemoInvert", "inputs": {"image": ["e", 0]}},
              "back": {"class_type": "ImageInvert", "inputs": {"image": ["i", 0]}},
              "shape": {"class_type": "DemoShape", "inputs": {"image": ["back", 0]}},
              "save": {"class_type": "SaveImage", "inputs": {"images": ["i", 0], "filename_prefix": "x"}}}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["shape"]["shape"] == [2, 8, 16, 3]
    expected = 2 * 8 * 16 * (0x33 + 0x66 + 0x99) / 255
    assert abs(result.outputs["shape"]["sum"][0] - expected) < 1e-3
    assert runner.shm.stats().copies >= 1  # EmptyImage's output was copied into shared memory once


async def test_a_dead_child_leaves_no_segment_behind(pack) -> None:
    executor, _, runner, _ = pack
    prompt = {"e": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 1}},
              "c": {"class_type": "DemoCrash", "inputs": {"how": "sigkill", "value": 1}},
              "i": {"class_type": "DemoInvert", "inputs": {"image": ["e", 0]}},
              "s": {"class_type": "DemoShape", "inputs": {"image": ["i", 0]}}, "o": show("c")}
    result = await executor.run(prompt, "p")
    assert result.status == "error"
    assert runner.shm.stats().refs.get("demo_pack", 0) == 0


async def test_an_endless_loop_is_interrupted_by_killing_the_child(pack) -> None:
    executor, sink, runner, _ = pack
    runner.interrupt_grace = 0.3

    async def interrupt_soon() -> None:
        await asyncio.sleep(0.3)
        executor.interrupt()

    task = asyncio.ensure_future(interrupt_soon())
    result = await executor.run({"x": {"class_type": "DemoSpin", "inputs": {"value": 1}}, "s": show("x")}, "p")
    await task
    assert result.status == "interrupted"
    ok = await executor.run({"1": add(1, 2), "s": show("1")}, "q")
    assert ok.status == "success" and ok.outputs["s"]["text"] == ["3"]


async def test_a_256_mb_output_crosses(pack) -> None:
    executor, _, runner, _ = pack
    prompt = {"e": {"class_type": "EmptyImage", "inputs": {"width": 5461, "height": 4096, "batch_size": 1,
                                                           "color": 0}},  # 256 MiB of float32
              "i": {"class_type": "DemoInvert", "inputs": {"image": ["e", 0]}},
              "s": {"class_type": "DemoShape", "inputs": {"image": ["i", 0]}}}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["s"]["shape"] == [1, 4096, 5461, 3]
    assert abs(result.outputs["s"]["sum"][0] - 4096 * 5461 * 3) <= 1e-6 * 4096 * 5461 * 3


async def test_folder_paths_in_the_child_are_the_hosts(pack, paths) -> None:
    executor, _, _, _ = pack
    result = await executor.run({"f": {"class_type": "DemoFolders", "inputs": {}}}, "p")
    assert result.outputs["f"] == {"output": [str(paths.output_dir)], "temp": [str(paths.temp_dir)]}


async def test_validation_calls_have_a_deadline(pack) -> None:
    from host.executor.errors import ValidationFailed

    executor, _, runner, _ = pack
    runner.check_deadline = 0.3
    with pytest.raises(ValidationFailed) as info:
        await executor.validate({"c": {"class_type": "DemoSlowCheck", "inputs": {"value": 2}}, "s": show("c")})
    [err] = info.value.node_errors["c"].errors
    assert err.type == "exception_during_validation" and "longer than 0.3 s" in err.details


async def test_objects_that_cannot_cross_stay_in_the_child(pack) -> None:
    executor, _, _, _ = pack
    prompt = {"m": {"class_type": "DemoMakeThing", "inputs": {"value": 4}},
              "u": {"class_type": "DemoUseThing", "inputs": {"thing": ["m", 0]}}, "s": show("u"),
              "p": {"class_type": "PreviewAny", "inputs": {"source": ["m", 0]}}}
    result = await executor.run(prompt, "p")
    assert result.status == "success", "".join((result.error or {}).get("traceback", []))
    assert result.outputs["s"]["text"] == ["40"]  # the child got its own object back
    assert "OpaqueRef" in result.outputs["p"]["text"][0] and "Thing" in result.outputs["p"]["text"][0]


async def test_list_mapping_and_is_changed_for_isolated_nodes(pack) -> None:
    executor, sink, _, _ = pack
    prompt = {"r": {"class_type": "DemoRange", "inputs": {"n": 3}},
              "a": {"class_type": "DemoAdd", "inputs": {"a": ["r", 0], "b": 100}}, "s": show("a")}
    result = await executor.run(prompt, "p")
    assert result.outputs["s"]["text"] == ["100", "101", "102"]
    sink.events.clear()
    await executor.run(prompt, "q")  # IS_CHANGED unchanged: all cached
    assert sink.of(Executing) == []
    prompt["r"]["inputs"]["n"] = -2  # IS_CHANGED is NaN: runs every time
    await executor.run(prompt, "r")
    await executor.run(prompt, "s")
    assert [e.node for e in sink.of(Executing)].count("r") == 2


async def test_for_loop_in_a_pack_carries_a_tensor_through_expansion(paths) -> None:
    """ForLoopClose re-expands its body with the IMAGE computed so far as a constant input of an ephemeral node:
    the DYNPROMPT sent to the child holds that tensor inside a Struct, and it crosses through shared memory."""
    registry = Registry()
    load_builtin(registry, paths)
    runner, info = await start_pack(registry, PACKS / "loop_pack", folders={"output": str(paths.output_dir)})
    registry.freeze()
    try:
        assert info.failures == {}
        prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
                  "2": {"class_type": "ForLoopOpen", "inputs": {"remaining": 3, "value": ["1", 0]}},
                  "3": {"class_type": "LoopInvert", "inputs": {"image": ["2", 2], "add": 0.1}},
                  "4": {"class_type": "ForLoopClose", "inputs": {"flow_control": ["2", 0], "remaining": ["2", 1],
                                                                 "value": ["3", 0]}},
                  "5": {"class_type": "LoopMean", "inputs": {"image": ["4", 0]}}}
        result = await Executor(registry, ListSink()).run(prompt, "loop")
        assert result.status == "success", "".join((result.error or {}).get("traceback", []))
        assert result.outputs["5"] == {"mean": [0.3], "shape": [[1, 8, 8, 3]]}
    finally:
        await runner.close()


def image(color: int = 0) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": color}}


async def test_restarted_children_do_not_leak_shared_memory(pack) -> None:
    """A child killed ten times: its granted slabs go back to the pool (or are unlinked) when its death is seen."""
    executor, _, runner, _ = pack
    prompt = {"1": image(), "2": {"class_type": "DemoInvert", "inputs": {"image": ["1", 0]}},
              "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}
    def segments() -> int:  # this host's files in /dev/shm: live segments and the warm pool
        stats = runner.shm.stats()
        return stats.segments + stats.pooled

    counts = []
    for i in range(10):
        prompt["1"] = image(i)
        result = await executor.run(prompt, f"p{i}")
        assert result.status == "success", result.error
        gc.collect()  # as the server's worker does after each prompt
        counts.append(segments())
        pid = runner.child.pid
        os.kill(pid, signal.SIGKILL)
        await runner.child.wait()
    result = await executor.run(prompt | {"1": image(99)}, "last")
    assert result.status == "success", result.error
    gc.collect()
    counts.append(segments())
    assert max(counts) <= counts[0] + 1, counts


def wait_dead_unreaped(pid: int) -> None:
    """Until the kernel has the child dead, without letting the loop see it (no await in between)."""
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:
            return
        time.sleep(0.001)
    raise AssertionError(f"child {pid} did not die")


async def test_a_prompt_right_after_a_child_dies_starts_a_new_child(pack) -> None:
    """A child found dead before the call is sent (killed a moment ago, not reaped yet) is replaced at once;
    only a death during a call fails the prompt."""
    executor, _, runner, _ = pack
    assert (await executor.run({"1": add(1, 1), "s": show("1")}, "warm")).status == "success"
    for i in range(5):
        old = runner.child.pid
        os.kill(old, signal.SIGKILL)
        wait_dead_unreaped(old)
        result = await executor.run({"1": add(i, 100), "s": show("1")}, f"p{i}")
        assert result.status == "success", (result.error or {}).get("exception_message")
        assert result.outputs["s"]["text"] == [str(i + 100)] and runner.child.pid != old


async def test_a_cached_pack_that_fails_to_load_when_its_node_runs(paths, tmp_path: Path) -> None:
    """Nodes registered from the definition cache (no child at start); when the prompt runs, the child starts and
    the pack fails to import (a file it reads, not among its sources, is gone): the prompt fails with the node's id
    and class and a typed NodeNotFoundError naming the pack and its import error, not the child's KeyError."""
    from host.extensions.packs import NodeDefCache

    pack_dir = tmp_path / "flaky_pack"
    pack_dir.mkdir()
    (pack_dir / "settings.dat").write_text("1")
    (pack_dir / "__init__.py").write_text(
        "import os\n"
        "if not os.path.exists(os.path.join(os.path.dirname(__file__), 'settings.dat')):\n"
        "    raise RuntimeError('settings.dat is missing')\n"
        "class Flaky:\n    @classmethod\n    def INPUT_TYPES(cls):\n        return {'required': {}}\n"
        "    RETURN_TYPES = ('INT',)\n    FUNCTION = 'run'\n    OUTPUT_NODE = True\n"
        "    def run(self):\n        return (1,)\n"
        "NODE_CLASS_MAPPINGS = {'Flaky': Flaky}\n")
    cache = NodeDefCache(tmp_path / "nodedefs")
    first, _ = await start_pack(Registry(), pack_dir, cache=cache)
    await first.close()
    (pack_dir / "settings.dat").unlink()
    registry = Registry()
    runner, info = await start_pack(registry, pack_dir, cache=cache)
    try:
        assert runner.child is None and [n.name for n in info.nodes] == ["Flaky"]  # from the cache
        sink = ListSink()
        result = await Executor(registry.freeze(), sink).run({"7": {"class_type": "Flaky", "inputs": {}}}, "p")
        assert result.status == "error"
        [err] = sink.of(ExecutionError)
        assert (err.node_id, err.node_type, err.exception_type) == ("7", "Flaky", "NodeNotFoundError")
        assert "'flaky_pack' failed to load: RuntimeError: settings.dat is missing" in err.exception_message
    finally:
        await runner.close()
