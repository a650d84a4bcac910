"""Node expansion (COMPAT §4.7): ephemeral nodes, GraphBuilder ids, a While loop, sub-caches and errors."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from testnodes import Show, Value

from host.executor.events import Executed, Executing, ExecutionError
from isolate.api import io
from isolate.graph_utils import GraphBuilder, is_link

CALLS: list[tuple[str, Any]] = []




class Add:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT",), "b": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, a, b):
        CALLS.append(("Add", (a, b)))
        if a < 0:
            raise ValueError("negative input")
        return (a + b,)


class Less:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT",), "b": ("INT",)}}

    RETURN_TYPES = ("BOOLEAN",)
    FUNCTION = "run"

    def run(self, a, b):
        return (a < b,)




class AddChain:
    """Expands into ``n`` Add nodes (ids from GraphBuilder), plus a Show output node inside the subgraph."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"start": ("INT",), "n": ("INT",), "step": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, start, n, step):
        graph = GraphBuilder()
        CALLS.append(("prefix", graph.prefix))
        prev: Any = start
        for _ in range(n):
            prev = graph.node("Add", a=prev, b=step).out(0)
        graph.node("Show", v=prev)
        return {"result": (prev,), "expand": graph.finalize()}


class WhileOpen:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    RETURN_TYPES = ("FLOW_CONTROL", "INT")
    FUNCTION = "run"

    def run(self, value):
        return ("flow", value)


class WhileClose:
    """A While loop's close node, written as loop packs write it: while ``condition`` holds, clone the body
    between the open node and itself with GraphBuilder, feeding this iteration's value in (recursion by
    expansion, never by the Python stack)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"flow": ("FLOW_CONTROL", {"rawLink": True}),
                             "condition": ("BOOLEAN", {"forceInput": True}), "value": ("INT", {"forceInput": True})},
                "hidden": {"dyn": "DYNPROMPT", "uid": "UNIQUE_ID"}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, flow, condition, value, dyn, uid):
        if not condition:
            return (value,)
        open_id = flow[0]
        body, stack = {uid}, [uid]
        while stack:
            for v in dyn.get_node(stack.pop())["inputs"].values():
                if is_link(v) and v[0] != open_id and v[0] not in body:
                    body.add(v[0])
                    stack.append(v[0])
        graph = GraphBuilder()
        new_open = graph.node("WhileOpen", dyn.get_display_node_id(open_id), value=value)
        new_open.set_override_display_id(dyn.get_display_node_id(open_id))
        local = {n: dyn.get_display_node_id(n) for n in body}  # clone ids grow by one prefix per iteration
        for n in body:
            graph.node(dyn.get_node(n)["class_type"], local[n]).set_override_display_id(local[n])
        for n in body:
            clone = graph.lookup_node(local[n])
            for key, v in dyn.get_node(n)["inputs"].items():
                if is_link(v) and v[0] in body:
                    clone.set_input(key, graph.lookup_node(local[v[0]]).out(v[1]))
                elif is_link(v) and v[0] == open_id:
                    clone.set_input(key, new_open.out(v[1]))
                else:
                    clone.set_input(key, v)
        return {"result": (graph.lookup_node(local[uid]).out(0),), "expand": graph.finalize()}


class V3Expand(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3Expand", inputs=[io.Int.Input("v")], outputs=[io.Int.Output()],
                         enable_expand=True)

    @classmethod
    def execute(cls, v):
        graph = GraphBuilder()
        node = graph.node("Add", a=v, b=100)
        return io.NodeOutput(node.out(0), expand=graph.finalize())


class V3NoFlag(V3Expand):
    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="V3NoFlag", inputs=[io.Int.Input("v")], outputs=[io.Int.Output()])


class BadLink:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        graph = GraphBuilder()
        node = graph.node("Add", a=["ghost", 0], b=1)
        return {"result": (node.out(0),), "expand": graph.finalize()}


class MakesCycle:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"v": ("INT",)}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    def run(self, v):
        graph = GraphBuilder()
        a = graph.node("Add", id="a", b=1)
        b = graph.node("Add", id="b", a=a.out(0), b=1)
        a.set_input("a", b.out(0))
        return {"result": (b.out(0),), "expand": graph.finalize()}


NODES = {c.__name__: c for c in (Value, Add, Less, Show, AddChain, WhileOpen, WhileClose, V3Expand, V3NoFlag,
                                 BadLink, MakesCycle)}


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


@pytest.fixture
def ex(make_executor):
    return make_executor(NODES)


def show(src: str) -> dict:
    return {"class_type": "Show", "inputs": {"v": [src, 0]}}


async def test_expansion_resolves_parent_outputs_and_runs_ephemeral_outputs(ex) -> None:
    executor, sink = ex
    prompt = {"c": {"class_type": "AddChain", "inputs": {"start": 10, "n": 3, "step": 2}}, "s": show("c")}
    result = await executor.run(prompt, "p")
    assert result.status == "success"
    assert result.outputs["s"] == {"v": [16]}
    assert CALLS[0] == ("prefix", "c.0.0.")
    inner_show = "c.0.0.4"
    assert result.outputs[inner_show] == {"v": [16]}
    assert result.meta[inner_show] == {"node_id": inner_show, "display_node": "c", "parent_node": "c",
                                       "real_node_id": "c"}
    executing = [(e.node, e.display_node) for e in sink.of(Executing)]
    assert executing.count(("c", "c")) == 1  # no second `executing` on the resolving visit
    assert ("c.0.0.1", "c") in executing
    assert {e.node for e in sink.of(Executed)} == {"s", inner_show}


async def test_list_mapped_calls_get_their_own_prefix(make_executor) -> None:
    class Ints:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = ("INT",)
        OUTPUT_IS_LIST = (True,)
        FUNCTION = "run"

        def run(self):
            return ([1, 2],)

    executor, _ = make_executor(NODES | {"Ints": Ints})
    prompt = {"i": {"class_type": "Ints", "inputs": {}},
              "c": {"class_type": "AddChain", "inputs": {"start": ["i", 0], "n": 1, "step": 1}}, "s": show("c")}
    result = await executor.run(prompt, "p")
    assert [c[1] for c in CALLS if c[0] == "prefix"] == ["c.0.0.", "c.1.0."]
    assert result.outputs["s"] == {"v": [2, 3]}


async def test_while_loop_thousand_iterations_without_recursion(ex) -> None:
    executor, sink = ex
    n = 1000
    prompt = {"open": {"class_type": "WhileOpen", "inputs": {"value": 0}},
              "add": {"class_type": "Add", "inputs": {"a": ["open", 1], "b": 1}},
              "less": {"class_type": "Less", "inputs": {"a": ["add", 0], "b": n}},
              "close": {"class_type": "WhileClose", "inputs": {"flow": ["open", 0], "condition": ["less", 0],
                                                               "value": ["add", 0]}},
              "s": show("close")}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(250)
    try:
        result = await executor.run(prompt, "p")
    finally:
        sys.setrecursionlimit(old)
    assert result.status == "success", result.error
    assert result.outputs["s"] == {"v": [n]}
    assert len([c for c in CALLS if c[0] == "Add"]) == n
    displays = {e.display_node for e in sink.of(Executing)}
    assert displays == {"open", "add", "less", "close", "s"}  # clones show on the original nodes


async def test_ephemeral_nodes_are_cached_in_the_parents_subcache(ex) -> None:
    executor, _ = ex
    prompt = {"c": {"class_type": "AddChain", "inputs": {"start": 0, "n": 3, "step": 1}}, "s": show("c")}
    await executor.run(prompt, "a")
    assert len([c for c in CALLS if c[0] == "Add"]) == 3
    CALLS.clear()
    await executor.run(prompt, "b")  # parent cached: nothing runs
    assert CALLS == []
    prompt["c"]["inputs"]["n"] = 4  # parent re-runs; its first three Add nodes are unchanged: cache hits
    result = await executor.run(prompt, "c")
    assert [c for c in CALLS if c[0] == "Add"] == [("Add", (3, 1))] and result.outputs["s"] == {"v": [4]}


async def test_v3_expansion_needs_enable_expand(ex) -> None:
    executor, _ = ex
    ok = await executor.run({"x": {"class_type": "V3Expand", "inputs": {"v": 1}}, "s": show("x")}, "p")
    assert ok.outputs["s"] == {"v": [101]}
    bad = await executor.run({"x": {"class_type": "V3NoFlag", "inputs": {"v": 1}}, "s": show("x")}, "q")
    assert bad.status == "error" and bad.error["node_id"] == "x"
    assert "enable_expand" in bad.error["exception_message"]


async def test_expansion_linking_a_missing_node(ex) -> None:
    executor, _ = ex
    result = await executor.run({"x": {"class_type": "BadLink", "inputs": {"v": 1}}, "s": show("x")}, "p")
    assert result.status == "error" and result.error["node_id"] == "x"
    assert "'ghost'" in result.error["exception_message"]
    assert (await executor.run({"v": {"class_type": "Value", "inputs": {"v": 1}}, "s": show("v")}, "q")).status \
        == "success"


async def test_error_in_ephemeral_node_reports_the_real_node(ex) -> None:
    executor, sink = ex
    result = await executor.run({"c": {"class_type": "AddChain", "inputs": {"start": -5, "n": 2, "step": 1}},
                                 "s": show("c")}, "p")
    assert result.status == "error"
    err = sink.of(ExecutionError)[0]
    assert err.node_id == "c" and err.node_type == "Add" and err.exception_message == "negative input"


async def test_cycle_created_by_expansion(ex) -> None:
    executor, _ = ex
    result = await executor.run({"x": {"class_type": "MakesCycle", "inputs": {"v": 1}}, "s": show("x")}, "p")
    assert result.status == "error"
    assert result.error["exception_type"] == "graph.DependencyCycleError"
    assert result.error["node_id"] == "x"  # blamed on the display node of the ephemeral cycle
