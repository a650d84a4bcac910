"""Lazy inputs, ExecutionBlocker, async nodes, DYNPROMPT, bad node returns (COMPAT §4.4-§4.8)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from host.executor.events import Executed, Executing, ExecutionError, NodeState
from isolate.api import io
from isolate.graph_utils import ExecutionBlocker

CALLS: list[tuple[str, Any]] = []


class Value:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        CALLS.append(("Value", v))
        return (v,)


class Out:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("*",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        CALLS.append(("Out", v))
        return {"ui": {"v": [v]}}


class Switch:
    """v1 lazy switch: only the chosen branch is evaluated."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"select": ("BOOLEAN",), "on_true": ("INT", {"lazy": True}),
                             "on_false": ("INT", {"lazy": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def check_lazy_status(self, select, on_true=None, on_false=None):
        CALLS.append(("check", (select, on_true, on_false)))
        return ["on_true"] if select else ["on_false"]

    def run(self, select, on_true=None, on_false=None):
        return (on_true if select else on_false,)


class Both:
    """Asks for its lazy inputs one at a time (a, then b), async: repeated until nothing new is asked."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"lazy": True}), "b": ("INT", {"lazy": True})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    async def check_lazy_status(self, a=None, b=None):
        CALLS.append(("both-check", (a, b)))
        if a is None:
            return ["a"]
        return ["b"] if b is None else []

    def run(self, a, b):
        return (a + b,)


class V3Switch(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Switch", inputs=[
            io.Boolean.Input("select"), io.Int.Input("on_true", lazy=True), io.Int.Input("on_false", lazy=True)],
            outputs=[io.Int.Output()])

    @classmethod
    def check_lazy_status(cls, select, on_true=None, on_false=None):
        return ["on_true" if select else "on_false"]

    @classmethod
    def execute(cls, select, on_true=None, on_false=None):
        return io.NodeOutput(on_true if select else on_false)


class Gate:
    """Blocks its output unless open; the message (if any) is reported."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",), "open": ("BOOLEAN",), "message": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("INT", "INT")
    FUNCTION = "run"

    def run(self, v, open, message):
        if open:
            return (v, v)
        return ExecutionBlocker(message or None)


class V3Gate(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Gate", inputs=[io.Int.Input("v")], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, v):
        return io.NodeOutput(block_execution="v3 says no")


class Sleep:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",), "seconds": ("FLOAT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    async def run(self, v, seconds):
        await asyncio.sleep(seconds)
        if v < 0:
            raise RuntimeError("negative sleep value")
        return (v,)


class V3Sleep(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Sleep", inputs=[io.Int.Input("v"), io.Float.Input("seconds")],
                         outputs=[io.Int.Output()])

    @classmethod
    async def fingerprint_inputs(cls, v, seconds):
        await asyncio.sleep(0)
        return float("nan")

    @classmethod
    async def execute(cls, v, seconds):
        await asyncio.sleep(seconds)
        return io.NodeOutput(v)


class Peek:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}, "hidden": {"dyn": "DYNPROMPT", "uid": "UNIQUE_ID"}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v, dyn, uid):
        CALLS.append(("Peek", (dyn.get_node(uid)["class_type"], dyn.has_node("1"), dyn.has_node("zz"),
                               dyn.get_real_node_id(uid), dyn.get_display_node_id(uid),
                               dyn.get_parent_node_id(uid), sorted(dyn.all_node_ids()),
                               sorted(dyn.get_original_prompt()))))
        return {}


class WrongCount:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("INT", "INT")
    FUNCTION = "run"

    def run(self):
        return (1,)


class NotTuple:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self):
        return 5


class AsksUnknown(Switch):
    def check_lazy_status(self, **kw):
        return ["nonexistent"]


NODES = {c.__name__: c for c in (Value, Out, Switch, Both, V3Switch, Gate, V3Gate, Sleep, V3Sleep, Peek,
                                 WrongCount, NotTuple, AsksUnknown)}


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


@pytest.fixture
def ex(make_executor):
    return make_executor(NODES)


def value(v: int) -> dict:
    return {"class_type": "Value", "inputs": {"v": v}}


def out(src: str, slot: int = 0) -> dict:
    return {"class_type": "Out", "inputs": {"v": [src, slot]}}


@pytest.mark.parametrize("switch", ["Switch", "V3Switch"])
async def test_lazy_switch_runs_only_the_chosen_branch(ex, switch: str) -> None:
    executor, sink = ex
    prompt = {"t": value(1), "f": value(2),
              "s": {"class_type": switch, "inputs": {"select": False, "on_true": ["t", 0], "on_false": ["f", 0]}},
              "o": out("s")}
    result = await executor.run(prompt, "p")
    assert result.status == "success" and result.outputs["o"] == {"v": [2]}
    assert ("Value", 1) not in CALLS and ("Value", 2) in CALLS
    executing = [e.node for e in sink.of(Executing)]
    assert executing.count("s") == 2  # executing again after the lazy re-stage
    if switch == "Switch":
        assert CALLS[:1] == [("check", (False, None, None))] and ("check", (False, None, 2)) in CALLS


async def test_check_lazy_status_repeats_until_nothing_new(ex) -> None:
    executor, _ = ex
    prompt = {"a": value(3), "b": value(4), "x": {"class_type": "Both", "inputs": {"a": ["a", 0], "b": ["b", 0]}},
              "o": out("x")}
    result = await executor.run(prompt, "p")
    assert result.outputs["o"] == {"v": [7]}
    assert [c[1] for c in CALLS if c[0] == "both-check"] == [(None, None), (3, None), (3, 4)]


async def test_check_lazy_status_naming_an_unknown_input_is_an_error(ex) -> None:
    executor, sink = ex
    prompt = {"t": value(1), "s": {"class_type": "AsksUnknown", "inputs": {"select": True, "on_true": ["t", 0],
                                                                          "on_false": ["t", 0]}}, "o": out("s")}
    result = await executor.run(prompt, "p")
    assert result.status == "error" and result.error["node_id"] == "s"
    assert "nonexistent" in result.error["exception_message"]
    assert (await executor.run({"t": value(1), "o": out("t")}, "q")).status == "success"


async def test_blocker_with_message_is_reported_and_flows_downstream(ex) -> None:
    executor, sink = ex
    prompt = {"v": value(5), "g": {"class_type": "Gate", "inputs": {"v": ["v", 0], "open": False,
                                                                      "message": "closed"}},
              "o1": out("g", 0), "o2": out("g", 1), "ok": out("v")}
    result = await executor.run(prompt, "p")
    assert result.status == "success"
    errors = sink.of(ExecutionError)  # as in ComfyUI, each node that receives the blocker reports it
    assert sorted(e.node_id for e in errors) == ["o1", "o2"]
    err = errors[0]
    assert err.exception_type == "ExecutionBlocked" and err.exception_message == "Execution Blocked: closed"
    assert err.traceback == [] and err.current_inputs == [] and err.current_outputs == []
    assert [c for c in CALLS if c[0] == "Out"] == [("Out", 5)]  # both blocked outputs skipped
    assert set(result.outputs) == {"ok"}


async def test_silent_blocker_reports_nothing(ex) -> None:
    executor, sink = ex
    prompt = {"v": value(5), "g": {"class_type": "Gate", "inputs": {"v": ["v", 0], "open": False, "message": ""}},
              "o": out("g")}
    result = await executor.run(prompt, "p")
    assert result.status == "success" and sink.of(ExecutionError) == [] and result.outputs == {}


async def test_v3_block_execution(ex) -> None:
    executor, sink = ex
    result = await executor.run({"v": value(1), "g": {"class_type": "V3Gate", "inputs": {"v": ["v", 0]}},
                                 "o": out("g")}, "p")
    assert result.status == "success"
    assert sink.of(ExecutionError)[0].exception_message == "Execution Blocked: v3 says no"


@pytest.mark.parametrize("sleeper", ["Sleep", "V3Sleep"])
async def test_independent_async_nodes_overlap(ex, sleeper: str) -> None:
    executor, sink = ex
    prompt = {"a": {"class_type": sleeper, "inputs": {"v": 1, "seconds": 0.2}},
              "b": {"class_type": sleeper, "inputs": {"v": 2, "seconds": 0.2}},
              "oa": out("a"), "ob": out("b")}
    result = await executor.run(prompt, "p")
    assert result.status == "success"
    # both sleepers start before either finishes: they ran concurrently
    events = [(type(e).__name__, getattr(e, "node", None) or getattr(e, "node_id", None),
               getattr(e, "state", None)) for e in sink.events if isinstance(e, (Executing, NodeState))]
    started = [i for i, (kind, node, _) in enumerate(events) if kind == "Executing" and node in ("a", "b")]
    finished = [i for i, (kind, node, state) in enumerate(events) if state == "finished" and node in ("a", "b")]
    assert len(started) == 2 and max(started) < min(finished)


async def test_async_exception_is_an_execution_error(ex) -> None:
    executor, sink = ex
    result = await executor.run({"a": {"class_type": "Sleep", "inputs": {"v": -1, "seconds": 0.01}},
                                 "o": out("a")}, "p")
    assert result.status == "error" and result.error["node_id"] == "a"
    assert result.error["exception_type"] == "RuntimeError"
    assert result.error["exception_message"] == "negative sleep value"


async def test_async_fingerprint_nan_reruns(ex) -> None:
    executor, sink = ex
    prompt = {"a": {"class_type": "V3Sleep", "inputs": {"v": 1, "seconds": 0.0}}, "o": out("a")}
    await executor.run(prompt, "p")
    sink.events.clear()
    await executor.run(prompt, "q")
    assert "a" in [e.node for e in sink.of(Executing)]


async def test_dynprompt_view(ex) -> None:
    executor, _ = ex
    await executor.run({"1": value(1), "pk": {"class_type": "Peek", "inputs": {"v": ["1", 0]}}}, "p")
    [(_, seen)] = [c for c in CALLS if c[0] == "Peek"]
    assert seen == ("Peek", True, False, "pk", "pk", None, ["1", "pk"], ["1", "pk"])


async def test_fewer_values_than_outputs_give_none_to_the_missing_slot(ex) -> None:
    # ComfyUI runs such a node (Comfyroll's CR Text Concatenate returns 1 value for its 2 outputs); an input
    # linked to the slot it did not return gets None
    executor, _ = ex
    result = await executor.run({"w": {"class_type": "WrongCount", "inputs": {}},
                                 "o0": out("w"), "o1": out("w", 1)}, "p")
    assert result.status == "success", result.error
    assert [v for name, v in CALLS if name == "Out"] in ([1, None], [None, 1])


async def test_non_tuple_return_is_an_error(ex) -> None:
    executor, _ = ex
    result = await executor.run({"n": {"class_type": "NotTuple", "inputs": {}}, "o": out("n")}, "p")
    assert result.status == "error" and result.error["node_id"] == "n"
    assert "returned int" in result.error["exception_message"]
    assert (await executor.run({"t": value(1), "o": out("t")}, "q")).status == "success"


async def test_cached_ui_is_sent_again_without_executing(ex) -> None:
    executor, sink = ex
    prompt = {"t": value(1), "o": out("t")}
    await executor.run(prompt, "p")
    sink.events.clear()
    await executor.run(prompt, "q")
    assert sink.of(Executing) == [] and [e.output for e in sink.of(Executed)] == [{"v": [1]}]
