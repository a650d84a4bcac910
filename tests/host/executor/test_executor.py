"""Execution (COMPAT §4.2-§4.5, §4.9, §4.10): order, inputs, return forms, CLASSIC cache, errors, interrupt."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from host.executor.events import (
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    NodeState,
)

CALLS: list[tuple[str, Any]] = []


class Value:
    """An INT source that records each run."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        CALLS.append(("Value", v))
        return (v,)


class Show:
    """An output node returning ``{"ui", "result"}``; undeclared links arrive too (variadic pattern)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}, "optional": {"extra": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v, **kw):
        CALLS.append(("Show", (v, sorted(kw.items()))))
        return {"ui": {"text": [str(v)]}, "result": (v,)}


class UiOnly:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        CALLS.append(("UiOnly", v))
        return {"ui": {"value": [v]}}


class Boom:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",), "label": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v, label):
        raise ValueError(f"boom {v}")


class Changing:
    """IS_CHANGED drives the cache; ``token`` is read at fingerprint time."""

    token: Any = 1

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def IS_CHANGED(cls, v):
        return cls.token

    def run(self, v):
        CALLS.append(("Changing", v))
        return (v,)


class Fresh:
    NOT_IDEMPOTENT = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        CALLS.append(("Fresh", v))
        return (v,)


class Hidden:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)},
                "hidden": {"prompt": "PROMPT", "uid": "UNIQUE_ID", "png": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v, prompt, uid, png):
        CALLS.append(("Hidden", (sorted(prompt), uid, png)))
        return {"ui": {"uid": [uid]}}


class Stateful:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def __init__(self):
        self.runs = 0

    def run(self, v):
        self.runs += 1
        CALLS.append(("Stateful", (id(self), self.runs)))
        return (v + self.runs,)


class Many:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT",)}}

    RETURN_TYPES = ("INT", "INT")
    OUTPUT_IS_LIST = (True, False)
    FUNCTION = "run"

    def run(self, n):
        return (list(range(n)), n)


class Sum:
    INPUT_IS_LIST = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v):
        CALLS.append(("Sum", v))
        return {"ui": {"sum": [sum(v)]}, "result": (sum(v),)}


class Interrupter:
    executor: Any = None

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        cls = type(self)
        cls.executor.interrupt()
        return (v,)


NODES = {c.__name__: c for c in (Value, Show, UiOnly, Boom, Changing, Fresh, Hidden, Stateful, Many, Sum,
                                 Interrupter)}


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()
    Changing.token = 1


@pytest.fixture
def ex(make_executor):
    return make_executor(NODES)


def value(v: int) -> dict:
    return {"class_type": "Value", "inputs": {"v": v}}


def show(src: str, **extra) -> dict:
    return {"class_type": "Show", "inputs": {"v": [src, 0]} | extra}


async def test_only_nodes_reachable_from_outputs_run(ex) -> None:
    executor, sink = ex
    result = await executor.run({"1": value(1), "2": value(2), "3": show("1")}, "p")
    assert result.status == "success"
    assert CALLS == [("Value", 1), ("Show", (1, []))]
    assert result.outputs == {"3": {"text": ["1"]}}
    assert result.meta == {"3": {"node_id": "3", "display_node": "3", "parent_node": None, "real_node_id": "3"}}
    assert sink.types() == ["execution_start", "execution_cached",
                            "node_state", "executing", "node_state",
                            "node_state", "executing", "executed", "node_state", "execution_success"]
    states = [(e.node_id, e.state) for e in sink.of(NodeState)]
    assert states == [("1", "running"), ("1", "finished"), ("3", "running"), ("3", "finished")]
    executed = sink.of(Executed)[0]
    assert (executed.node, executed.display_node, executed.output, executed.prompt_id) == (
        "3", "3", {"text": ["1"]}, "p")
    assert [m[0] for m in result.messages] == ["execution_start", "execution_cached", "execution_success"]


async def test_output_nodes_run_first_when_ready(ex) -> None:
    executor, sink = ex
    prompt = {"a": value(1), "b": value(2), "u": {"class_type": "UiOnly", "inputs": {"v": ["b", 0]}},
              "s": show("a")}
    await executor.run(prompt, "p")
    # "b" is picked before "a": it feeds an output directly, and an output runs as soon as it is ready
    order = [e.node for e in sink.of(Executing)]
    assert order.index("u") == order.index("b") + 1 or order.index("s") == order.index("a") + 1


async def test_undeclared_links_are_passed_and_undeclared_constants_dropped(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1), "2": value(5), "3": show("1", extra=["2", 0], more=["2", 0], junk=7)}
    await executor.run(prompt, "p")
    assert ("Show", (1, [("extra", 5), ("more", 5)])) in CALLS


async def test_ui_only_return_and_tuple_return(ex) -> None:
    executor, _ = ex
    result = await executor.run({"1": value(4), "2": {"class_type": "UiOnly", "inputs": {"v": ["1", 0]}}}, "p")
    assert result.outputs == {"2": {"value": [4]}}


async def test_hidden_values(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1), "h": {"class_type": "Hidden", "inputs": {"v": ["1", 0]}}}
    await executor.run(prompt, "p", {"extra_pnginfo": {"workflow": {"id": "w"}}})
    assert ("Hidden", (["1", "h"], "h", {"workflow": {"id": "w"}})) in CALLS


async def test_cache_hit_emits_executed_without_executing(ex) -> None:
    executor, sink = ex
    prompt = {"1": value(1), "3": show("1")}
    await executor.run(prompt, "a")
    sink.events.clear()
    CALLS.clear()
    result = await executor.run(prompt, "b")
    assert CALLS == []
    assert sink.types() == ["execution_start", "execution_cached", "executed", "node_state", "execution_success"]
    assert sink.of(ExecutionCached)[0].nodes == ["1", "3"]
    assert result.outputs == {"3": {"text": ["1"]}}


async def test_node_id_is_not_in_the_key(ex) -> None:
    executor, _ = ex
    await executor.run({"1": value(1), "2": show("1"), "3": value(1), "4": show("3")}, "p")
    assert CALLS.count(("Value", 1)) == 1 and len([c for c in CALLS if c[0] == "Show"]) == 1
    CALLS.clear()
    await executor.run({"x": value(1), "y": show("x")}, "q")  # renamed ids: still cached
    assert CALLS == []


async def test_changed_constant_reruns_only_downstream(ex) -> None:
    executor, _ = ex
    await executor.run({"1": value(1), "2": value(2), "3": show("1", extra=["2", 0])}, "p")
    CALLS.clear()
    await executor.run({"1": value(1), "2": value(3), "3": show("1", extra=["2", 0])}, "q")
    assert CALLS == [("Value", 3), ("Show", (1, [("extra", 3)]))]


async def test_is_changed_controls_the_cache(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1), "c": {"class_type": "Changing", "inputs": {"v": ["1", 0]}}, "s": show("c")}
    await executor.run(prompt, "a")
    CALLS.clear()
    await executor.run(prompt, "b")
    assert CALLS == []
    Changing.token = 2
    await executor.run(prompt, "c")
    assert [c[0] for c in CALLS] == ["Changing", "Show"]
    Changing.token = float("nan")
    CALLS.clear()
    await executor.run(prompt, "d")
    await executor.run(prompt, "e")
    assert [c[0] for c in CALLS] == ["Changing", "Show", "Changing", "Show"]


async def test_not_idempotent_keys_on_node_id(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1), "f": {"class_type": "Fresh", "inputs": {"v": ["1", 0]}},
              "g": {"class_type": "Fresh", "inputs": {"v": ["1", 0]}}, "s": show("f", extra=["g", 0])}
    await executor.run(prompt, "p")
    assert CALLS.count(("Fresh", 1)) == 2


async def test_error_event_fields_and_executor_stays_usable(ex) -> None:
    executor, sink = ex
    prompt = {"1": value(7), "b": {"class_type": "Boom", "inputs": {"v": ["1", 0], "label": "hi"}},
              "s": show("b")}
    result = await executor.run(prompt, "p")
    assert result.status == "error"
    [err] = sink.of(ExecutionError)
    assert (err.prompt_id, err.node_id, err.node_type) == ("p", "b", "Boom")
    assert err.exception_type == "ValueError" and err.exception_message == "boom 7"
    assert err.executed == ["1"] and err.current_inputs == {"v": [7], "label": ["hi"]}
    assert err.current_outputs == ["1"] and any("boom" in line for line in err.traceback)
    assert result.error is not None and result.error["node_id"] == "b"
    assert sink.types()[-1] == "execution_error" and "execution_success" not in sink.types()
    ok = await executor.run({"1": value(7), "s": show("1")}, "q")
    assert ok.status == "success"


async def test_a_node_class_gone_since_validation_fails_the_prompt_typed(ex) -> None:
    """A prompt validated while its nodes were registered, run after their pack lost them (an edit under
    --watch-packs, a pack that failed to load): ComfyUI's execution_error naming the node and its class."""
    executor, sink = ex
    validated = await executor.validate({"1": value(3), "s": show("1")})
    runner = executor.registry.nodes["Show"].runner
    kept = [b.nodedef for b in executor.registry.nodes.values() if b.runner is runner and b.nodedef.name != "Show"]
    assert executor.registry.rebind(runner, kept)[1] == ["Show"]
    result = await executor.execute(validated, "p")
    assert result.status == "error" and CALLS == []  # nothing ran
    [err] = sink.of(ExecutionError)
    assert (err.prompt_id, err.node_id, err.node_type, err.exception_type) == ("p", "s", "Show", "NodeNotFoundError")
    assert err.exception_message.startswith("Cannot execute because node Show does not exist")
    assert sink.types() == ["execution_start", "execution_error"]
    ok = await executor.run({"1": value(3), "u": {"class_type": "UiOnly", "inputs": {"v": ["1", 0]}}}, "q")
    assert ok.status == "success"  # the rest still runs


async def test_exception_type_is_module_qualified(ex, make_executor) -> None:
    class Custom(Exception):
        pass

    class Raises:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = ()
        FUNCTION = "run"
        OUTPUT_NODE = True

        def run(self):
            raise Custom("x")

    executor, sink = make_executor({"Raises": Raises})
    await executor.run({"1": {"class_type": "Raises", "inputs": {}}}, "p")
    assert sink.of(ExecutionError)[0].exception_type == f"{__name__}.test_exception_type_is_module_qualified." \
                                                        "<locals>.Custom"


async def test_cycle_through_undeclared_inputs_fails_at_execution(ex) -> None:
    executor, sink = ex
    prompt = {"a": show("b", extra=["b", 0]), "b": {"class_type": "Value", "inputs": {"v": 1, "x": ["a", 0]}}}
    result = await executor.run(prompt, "p")
    assert result.status == "error"
    err = sink.of(ExecutionError)[0]
    assert err.exception_type == "graph.DependencyCycleError"
    assert err.exception_message == "Dependency cycle detected"


async def test_node_instances_are_kept_per_node_id(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1), "st": {"class_type": "Stateful", "inputs": {"v": ["1", 0]}}, "s": show("st")}
    await executor.run(prompt, "a")
    prompt["1"] = value(2)
    await executor.run(prompt, "b")
    ids = [c[1] for c in CALLS if c[0] == "Stateful"]
    assert ids[0][0] == ids[1][0] and [r for _, r in ids] == [1, 2]
    await executor.run({"1": value(3), "s": show("1")}, "c")  # "st" left the prompt: its instance is dropped
    CALLS.clear()
    await executor.run({"1": value(4), "st": {"class_type": "Stateful", "inputs": {"v": ["1", 0]}},
                        "s": show("st")}, "d")
    assert [c[1][1] for c in CALLS if c[0] == "Stateful"] == [1]


async def test_list_outputs_map_over_calls(ex) -> None:
    executor, _ = ex
    prompt = {"m": {"class_type": "Many", "inputs": {"n": 3}}, "s": show("m"),
              "t": {"class_type": "Sum", "inputs": {"v": ["m", 0]}}}
    result = await executor.run(prompt, "p")
    assert [c[1][0] for c in CALLS if c[0] == "Show"] == [0, 1, 2]
    assert result.outputs["s"] == {"text": ["0", "1", "2"]}
    assert ("Sum", [0, 1, 2]) in CALLS and result.outputs["t"] == {"sum": [3]}


async def test_interrupt_between_node_calls(ex) -> None:
    executor, sink = ex
    Interrupter.executor = executor
    prompt = {"1": value(1), "i": {"class_type": "Interrupter", "inputs": {"v": ["1", 0]}}, "s": show("i")}
    result = await executor.run(prompt, "p")
    assert result.status == "interrupted"
    [ev] = sink.of(ExecutionInterrupted)
    assert (ev.node_id, ev.node_type, ev.executed) == ("s", "Show", ["1", "i"])
    assert (await executor.run({"1": value(9), "s": show("1")}, "q")).status == "success"


async def test_hundred_thousand_chain_runs(registry) -> None:
    from host.executor.events import ListSink
    from host.executor.executor import Executor

    n = 100_000
    prompt = {"0": {"class_type": "EmptyImage", "inputs": {"width": 2, "height": 2, "batch_size": 1, "color": 0}}}
    for i in range(1, n + 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["s"] = {"class_type": "PreviewImage", "inputs": {"images": [str(n), 0]}}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        result = await Executor(registry, ListSink()).run(prompt, "p")
    finally:
        sys.setrecursionlimit(old)
    assert result.status == "success" and len(result.executed) == n + 2


class Raw:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT", {"rawLink": True})}, "hidden": {"loop": ("INT",)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, v, loop=None):
        CALLS.append(("Raw", (v, loop)))
        return {"ui": {"link": [v]}}


class BadFingerprint:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def IS_CHANGED(cls, v):
        raise OSError("cannot stat")

    def run(self, v):
        CALLS.append(("BadFingerprint", v))
        return (v,)


@pytest.fixture
def ex2(make_executor):
    return make_executor(NODES | {"Raw": Raw, "BadFingerprint": BadFingerprint})


async def test_raw_link_and_tuple_typed_hidden_input(ex2) -> None:
    executor, _ = ex2
    result = await executor.run({"1": value(3), "2": value(4),
                                 "r": {"class_type": "Raw", "inputs": {"v": ["1", 0], "loop": ["2", 0]}}}, "p")
    assert ("Raw", (["1", 0], 4)) in CALLS  # the raw link itself; the tuple-typed hidden input gets its value
    assert ("Value", 3) in CALLS  # as in ComfyUI, the source of a rawLink input still runs first
    assert result.outputs == {"r": {"link": [["1", 0]]}}


async def test_fingerprint_exception_means_always_rerun(ex2) -> None:
    executor, _ = ex2
    prompt = {"1": value(1), "b": {"class_type": "BadFingerprint", "inputs": {"v": ["1", 0]}}, "s": show("b")}
    await executor.run(prompt, "a")
    await executor.run(prompt, "b")
    assert [c[0] for c in CALLS] == ["Value", "BadFingerprint", "Show", "BadFingerprint", "Show"]


async def test_is_changed_field_in_the_prompt_preseeds_the_fingerprint(ex) -> None:
    executor, _ = ex
    prompt = {"1": value(1) | {"is_changed": "a"}, "s": show("1")}
    await executor.run(prompt, "a")
    await executor.run(prompt, "b")
    prompt["1"]["is_changed"] = "b"
    await executor.run(prompt, "c")
    assert [c[0] for c in CALLS] == ["Value", "Show", "Value", "Show"]


async def test_diamond_runs_each_node_once(ex) -> None:
    executor, sink = ex
    prompt = {"1": value(1), "a": {"class_type": "Changing", "inputs": {"v": ["1", 0]}},
              "b": {"class_type": "Fresh", "inputs": {"v": ["1", 0]}}, "s": show("a", extra=["b", 0])}
    await executor.run(prompt, "p")
    assert sorted(e.node for e in sink.of(Executing)) == ["1", "a", "b", "s"]


async def test_ready_picking_prefers_outputs_then_their_direct_producers(ex) -> None:
    executor, sink = ex
    # "far" only feeds the output through "mid"; "near" feeds it directly; both are ready at the start.
    prompt = {"far": value(1), "mid": {"class_type": "Fresh", "inputs": {"v": ["far", 0]}},
              "near": value(2), "s": show("near", extra=["mid", 0]), "u": {"class_type": "UiOnly",
                                                                             "inputs": {"v": ["near", 0]}}}
    await executor.run(prompt, "p")
    order = [e.node for e in sink.of(Executing)]
    assert order[0] == "near"  # directly blocks an output
    assert order[1] == "u"  # an output node runs as soon as it is ready
    assert order[2:] == ["far", "mid", "s"]
