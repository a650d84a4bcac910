"""``server.PromptServer.instance`` in a child: messages to the host, recorded routes and prompt handlers."""

from __future__ import annotations

from typing import Any

import pytest

from isolate import child_services
from isolate.context import CURRENT_NODE, NodeContext


@pytest.fixture
def sent() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    child_services.set_notifier(lambda method, params: out.append((method, params)))
    return out


async def test_messages_reach_the_notifier(sent: list[tuple[str, Any]], load: Any) -> None:
    server = load("server")
    inst = server.PromptServer.instance
    assert inst is server.PromptServer.instance
    inst.send_sync("my.event", {"a": 1})
    inst.send_sync("my.event", {"a": 2}, "client-9")
    await inst.send("other", [1, 2], sid="s")
    await inst.send_json("json", {"x": None})
    inst.send_progress_text(b"working", "12")
    assert sent == [
        ("send_sync", {"event": "my.event", "data": {"a": 1}, "sid": None}),
        ("send_sync", {"event": "my.event", "data": {"a": 2}, "sid": "client-9"}),
        ("send_sync", {"event": "other", "data": [1, 2], "sid": "s"}),
        ("send_sync", {"event": "json", "data": {"x": None}, "sid": None}),
        ("send_progress_text", {"text": "working", "node_id": "12", "sid": None}),
    ]


def test_messages_without_a_host_are_dropped(load: Any) -> None:
    load("server").PromptServer.instance.send_sync("e", {})  # no notifier: nothing happens


def test_a_failing_notifier_does_not_fail_the_node(load: Any, caplog: pytest.LogCaptureFixture) -> None:
    def broken(method: str, params: Any) -> None:
        raise TypeError("cannot encode")

    child_services.set_notifier(broken)
    load("server").PromptServer.instance.send_sync("e", {"tensor": object()})
    assert "could not send 'send_sync'" in caplog.text


def test_routes_are_recorded_with_their_handlers(load: Any) -> None:
    server = load("server")
    inst = server.PromptServer.instance
    routes = inst.routes

    @routes.get("/mypack/items")
    async def items(request: Any) -> Any:
        return "items"

    @routes.post("/mypack/items")
    async def add_item(request: Any) -> Any:
        return "added"

    @routes.route("delete", "/mypack/items/{id}")
    async def drop_item(request: Any) -> Any:
        return "dropped"

    routes.static("/mypack/static", "/srv/static")
    assert items.__name__ == "items"  # the decorators give the handler back
    assert len(routes) == 4 and [d.method for d in list(routes)[:3]] == ["GET", "POST", "DELETE"]

    async def legacy(request: Any) -> Any:
        return "legacy"

    inst.app.router.add_get("/mypack/legacy", legacy)
    inst.app.add_routes(routes)  # already recorded: not twice
    table = child_services.services().route_table()
    module = __name__
    assert table == {
        "routes": [
            {"method": "GET", "path": "/mypack/items", "handler": f"{module}.{items.__qualname__}"},
            {"method": "POST", "path": "/mypack/items", "handler": f"{module}.{add_item.__qualname__}"},
            {"method": "DELETE", "path": "/mypack/items/{id}", "handler": f"{module}.{drop_item.__qualname__}"},
            {"method": "GET", "path": "/mypack/legacy", "handler": f"{module}.{legacy.__qualname__}"},
        ],
        "static": [{"prefix": "/mypack/static", "path": "/srv/static"}],
    }
    assert child_services.services().find_route("post", "/mypack/items").handler is add_item


def test_aiohttp_route_tables_given_to_the_app(load: Any) -> None:
    from aiohttp import web

    inst = load("server").PromptServer.instance
    table = web.RouteTableDef()

    @table.put("/p/thing")
    async def put_thing(request: Any) -> Any:
        return None

    table.static("/p/files", "/tmp")
    inst.app.add_routes(table)
    inst.app["state"] = 1
    inst.app.middlewares.append(object())
    svc = child_services.services()
    assert [(r.method, r.path) for r in svc.routes] == [("PUT", "/p/thing")]
    assert svc.statics[0].prefix == "/p/files"
    with pytest.raises(TypeError):
        inst.app.add_routes([object()])


def test_prompt_handlers_are_recorded(load: Any) -> None:
    inst = load("server").PromptServer.instance

    def rewrite(json_data: dict[str, Any]) -> dict[str, Any]:
        return {**json_data, "seen": True}

    inst.add_on_prompt_handler(rewrite)
    assert child_services.services().prompt_handlers == [rewrite]
    assert inst.trigger_on_prompt({"prompt": {}}) == {"prompt": {}, "seen": True}


def test_ids_follow_the_running_node(load: Any) -> None:
    inst = load("server").PromptServer.instance
    assert (inst.client_id, inst.last_node_id, inst.last_prompt_id) == (None, None, None)
    child_services.services().client_id = "c1"
    token = CURRENT_NODE.set(NodeContext("p5", "3", 0, None))
    try:
        assert (inst.client_id, inst.last_node_id, inst.last_prompt_id) == ("c1", "3", "p5")
    finally:
        CURRENT_NODE.reset(token)
    inst.client_id = "mine"
    assert inst.client_id == "mine"


def test_module_names_and_unavailable_parts(load: Any) -> None:
    server = load("server")
    assert [int(t) for t in server.BinaryEventTypes] == [1, 2, 3, 4]
    assert server.BinaryEventTypes.UNENCODED_PREVIEW_IMAGE == 2 and server.BinaryEventTypes.TEXT == 3
    assert server.BinaryEventTypes.PREVIEW_IMAGE_WITH_METADATA == 4
    with pytest.raises(AttributeError, match="isolated node pack"):
        server.PromptServer.instance.prompt_queue  # noqa: B018
    from aiohttp import web

    assert server.web is web
    replacement = server.PromptServer()
    server.PromptServer.instance = replacement
    assert server.PromptServer.instance is replacement
