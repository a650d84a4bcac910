"""Issue 15: every JSON route (each POST/PUT/PATCH/DELETE the app registers, not only /prompt) fed hostile
bodies (lone surrogates, huge and non-finite numbers, deep nesting, wrong shapes) never answers a 5xx."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported before the server warms up numpy on its thread: no import race)
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.executor.worker import ExecutorThread
from host.server.app import ServerConfig, build_app

pytestmark = pytest.mark.timeout(300)

surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
texts = st.text(max_size=12) | surrogates | st.tuples(st.text(max_size=4), surrogates).map(''.join)
numbers = st.integers() | st.floats() | st.sampled_from([10**400, -(10**30), 2**63, 1e308])
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(texts, c, max_size=4),
                           max_leaves=20)
raw_specials = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b'{"number": 1e400}',
                                b'{"prompt": NaN}', b'"\\ud800"', b'{"\\udfff": 1}', b'{"delete": ["\\ud800"]}'])
deep = st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n) | st.integers(1, 50_000).map(
    lambda n: b'{"a":' * n + b"1" + b"}" * n)
bodies = (json_values.map(lambda v: json.dumps(v).encode()) | raw_specials | deep | st.binary(max_size=40)
          | st.fixed_dictionaries({}, optional={k: json_values for k in (
              "prompt", "prompt_id", "client_id", "number", "delete", "clear", "extra_data", "free_memory",
              "unload_models", "clientId", "enabled", "username", "front")}).map(lambda v: json.dumps(v).encode()))


def json_routes(app: web.Application) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method not in ("POST", "PUT", "PATCH", "DELETE") or not path or "/ws" in path:
            continue
        found.add((route.method, path.replace("{id}", "fuzz.json").replace("{file}", "fuzz.json")
                   .replace("{prompt_id}", "p").replace("{job_id}", "p").replace("{node_class}", "x")))
    return sorted(found)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Any:
    from builtin_nodes import OutputPaths, load_builtin
    from host.registry import Registry

    tmp = Path(tmp_path_factory.mktemp("fuzzroutes"))
    registry = Registry()
    load_builtin(registry, OutputPaths(tmp / "out", tmp / "temp"))
    registry.freeze()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in ("input", "user", "models"):
        (tmp / name).mkdir()
    app = build_app(registry, ServerConfig(output_dir=tmp / "out", temp_dir=tmp / "temp", input_dir=tmp / "input",
                                           user_dir=tmp / "user", models_dir=tmp / "models"))
    routes = json_routes(app)
    thread = ExecutorThread(name="fuzz-routes").start()
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread.call(start(), timeout=30)
    yield f"http://127.0.0.1:{port}", routes
    thread.call(runner.cleanup(), timeout=30)
    thread.stop()


def request(base: str, method: str, path: str, body: bytes) -> int:
    req = urllib.request.Request(base + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_fuzz_covers_the_json_routes(server) -> None:
    _, routes = server
    paths = {p for _, p in routes}
    assert {"/prompt", "/queue", "/history", "/interrupt", "/free", "/settings", "/users"} <= paths
    assert len(routes) >= 15


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data(), body=bodies)
def test_every_json_route_never_answers_5xx(server, data, body: bytes) -> None:
    base, routes = server
    method, path = data.draw(st.sampled_from(routes))
    status = request(base, method, path, body)
    assert status < 500, f"{method} {path} answered {status} to {body[:120]!r}"


def test_the_server_is_healthy_after(server) -> None:
    base, _ = server
    with urllib.request.urlopen(base + "/prompt", timeout=10) as resp:
        assert resp.status == 200
