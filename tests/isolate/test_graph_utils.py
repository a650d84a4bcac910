"""GraphBuilder and add_graph_prefix: ComfyUI's id scheme and method set."""

from __future__ import annotations

from isolate.context import CURRENT_NODE, NodeContext
from isolate.graph_utils import ExecutionBlocker, GraphBuilder, add_graph_prefix, is_link


def test_prefix_follows_the_running_node_and_call_index() -> None:
    token = CURRENT_NODE.set(NodeContext("p", "12", 3))
    try:
        assert GraphBuilder().prefix == "12.3.0."
        assert GraphBuilder().prefix == "12.3.1."  # graph index counts builders within the call
    finally:
        CURRENT_NODE.reset(token)
    token = CURRENT_NODE.set(NodeContext("p", "7", 0))
    try:
        assert GraphBuilder().prefix == "7.0.0."  # a new call starts again at 0
        GraphBuilder.set_default_prefix("root", 5, 9)
        assert GraphBuilder().prefix == "root.5.9."
        assert GraphBuilder("explicit.").prefix == "explicit."
        assert GraphBuilder.alloc_prefix(root="r", call_index=1, graph_index=2) == "r.1.2."
    finally:
        CURRENT_NODE.reset(token)


def test_nodes_links_and_serialization() -> None:
    g = GraphBuilder("x.")
    a = g.node("A", v=1)
    b = g.node("B", src=a.out(0))
    named = g.node("C", id="named", other=b.out(1))
    assert (a.id, b.id, named.id) == ("x.1", "x.2", "x.named")
    assert g.node("C", id="named") is named  # an existing id returns its node
    assert g.lookup_node("2") is b and g.lookup_node("nope") is None
    b.set_override_display_id("orig")
    named.set_input("extra", 5)
    named.set_input("extra", None)
    assert named.get_input("other") == ["x.2", 1] and named.get_input("extra") is None
    assert g.finalize() == {
        "x.1": {"class_type": "A", "inputs": {"v": 1}},
        "x.2": {"class_type": "B", "inputs": {"src": ["x.1", 0]}, "override_display_id": "orig"},
        "x.named": {"class_type": "C", "inputs": {"other": ["x.2", 1]}}}


def test_replace_node_output_and_remove_node() -> None:
    g = GraphBuilder("p.")
    a = g.node("A")
    b = g.node("B", x=a.out(0), y=a.out(1))
    c = g.node("C", x=a.out(0))
    g.replace_node_output("1", 0, 42)
    assert b.inputs == {"x": 42, "y": ["p.1", 1]} and c.inputs == {"x": 42}
    g.replace_node_output("1", 1, None)
    assert b.inputs == {"x": 42}
    g.remove_node("1")
    assert "p.1" not in g.finalize()


def test_add_graph_prefix() -> None:
    graph = {"1": {"class_type": "A", "inputs": {"v": 3}}, "2": {"class_type": "B", "inputs": {"x": ["1", 0]}}}
    new_graph, outputs = add_graph_prefix(graph, [["2", 0], 7], "pre.")
    assert new_graph == {"pre.1": {"class_type": "A", "inputs": {"v": 3}},
                         "pre.2": {"class_type": "B", "inputs": {"x": ["pre.1", 0]}}}
    assert outputs == (["pre.2", 0], 7)


def test_is_link_and_blocker() -> None:
    assert is_link(["a", 0]) and is_link(["a", 1.0])
    assert not is_link(["a", True]) and not is_link([1, 0]) and not is_link(("a", 0)) and not is_link(["a", 0, 1])
    assert repr(ExecutionBlocker("m")) == "ExecutionBlocker('m')" and ExecutionBlocker(None).message is None
