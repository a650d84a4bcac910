"""Fuzzing: arbitrary bodies to /prompt and the other JSON routes never get a 5xx, and the server stays up."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.executor.worker import ExecutorThread
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(300)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    from pathlib import Path

    from builtin_nodes import OutputPaths, load_builtin
    from host.registry import Registry

    tmp = tmp_path_factory.mktemp("fuzz")
    registry = Registry()
    load_builtin(registry, OutputPaths(tmp / "out", tmp / "temp"))
    registry.freeze()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    thread = ExecutorThread(name="fuzz-server").start()
    app = build_app(registry, ServerConfig(output_dir=tmp / "out", temp_dir=tmp / "temp"))
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread.call(start(), timeout=30)
    yield f"http://127.0.0.1:{port}", registry, Path(tmp)
    thread.call(runner.cleanup(), timeout=30)
    thread.stop()


def request(base: str, method: str, path: str, body: bytes | None = None) -> int:
    req = urllib.request.Request(base + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def prompt_like(class_names: list[str]) -> st.SearchStrategy[Any]:
    node = st.fixed_dictionaries({"class_type": st.sampled_from(class_names) | st.text(max_size=8),
                                  "inputs": st.dictionaries(st.sampled_from(["image", "images", "width", "value",
                                                                             "filename_prefix", "x"]),
                                                            json_values | st.tuples(st.text(max_size=3),
                                                                                    st.integers(-1, 3)).map(list),
                                                            max_size=4)})
    return st.fixed_dictionaries({"prompt": st.dictionaries(st.text(max_size=3), node, max_size=4)},
                                 optional={"client_id": json_values, "prompt_id": json_values, "number": json_values,
                                           "front": json_values, "extra_data": json_values,
                                           "partial_execution_targets": json_values})


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(body=json_values)
def test_prompt_with_any_json_never_5xx(server, body) -> None:
    base, _, _ = server
    assert request(base, "POST", "/prompt", json.dumps(body).encode()) < 500


@FUZZ
@given(data=st.data())
def test_prompt_shaped_bodies_never_5xx(server, data) -> None:
    base, registry, _ = server
    body = data.draw(prompt_like(sorted(registry.nodes)))
    assert request(base, "POST", "/prompt", json.dumps(body).encode()) < 500


@FUZZ
@given(path=st.sampled_from(["/queue", "/history", "/interrupt", "/api/queue", "/api/history"]),
       body=st.binary(max_size=50) | json_values.map(lambda v: json.dumps(v).encode()))
def test_other_routes_never_5xx(server, path, body) -> None:
    base, _, _ = server
    assert request(base, "POST", path, body) < 500


def test_server_is_healthy_after_fuzzing(server) -> None:
    base, _, _ = server
    assert request(base, "GET", "/prompt") == 200
    assert request(base, "GET", "/history?max_items=5&offset=-3") == 200
