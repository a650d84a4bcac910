"""Issue 15 items 7, 9 and 11: Host/Origin normalisation, --listen lists, the token only on /ws and never in
logs or argv, and ``--auth-token ""`` refused."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from host.cli import build_parser
from host.server.app import ServerConfig, build_app
from host.server.middleware import guards
from host.server.redact import redact_argv, redact_text

pytestmark = pytest.mark.timeout(60)


async def make(registry, **config) -> TestClient:
    client = TestClient(TestServer(build_app(registry, ServerConfig(**config))))
    await client.start_server()
    return client


@pytest.mark.parametrize("host", ["sub.localhost", "localhost.", "127.1", "2130706433", "LOCALHOST", "[::1]"])
async def test_a_foreign_origin_is_refused_whatever_loopback_name_the_host_uses(registry, host: str) -> None:
    client = await make(registry)
    try:
        headers = {"Origin": "http://evil.example", "Host": f"{host}:{client.port}"}
        resp = await client.post("/prompt", json={"prompt": {}}, headers=headers)
        assert resp.status == 403
        same = {"Origin": f"http://{host}:{client.port}", "Host": f"{host}:{client.port}"}
        assert (await client.get("/prompt", headers=same)).status == 200
        other_port = {"Origin": f"http://localhost:{client.port + 1}", "Host": f"{host}:{client.port}"}
        assert (await client.get("/prompt", headers=other_port)).status == 403
    finally:
        await client.close()


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.5", "localhost.evil.example"])
async def test_a_loopback_server_refuses_a_foreign_host(registry, host: str) -> None:
    client = await make(registry)
    try:
        assert (await client.get("/prompt", headers={"Host": f"{host}:{client.port}"})).status == 403
        assert (await client.get("/prompt")).status == 200
    finally:
        await client.close()


async def test_the_query_token_is_accepted_on_the_websocket_only_and_never_logged(registry, caplog) -> None:
    client = await make(registry, auth_token="s3cret-tok")
    try:
        assert (await client.get("/object_info?token=s3cret-tok")).status == 401
        ws = await client.ws_connect("/ws?token=s3cret-tok")
        assert (await ws.receive_json())["type"] == "status"
        await ws.close()
        with caplog.at_level(logging.INFO):
            logging.getLogger("aiohttp.access").info('GET %s 200', "/ws?clientId=x&token=s3cret-tok")
        assert "s3cret-tok" not in caplog.text and "token=<redacted>" in caplog.text
    finally:
        await client.close()


def test_redaction_helpers() -> None:
    assert redact_argv(["serve", "--auth-token", "abc", "--port", "1"]) == ["serve", "--auth-token", "<redacted>",
                                                                           "--port", "1"]
    assert redact_argv(["--auth-token=abc"]) == ["--auth-token=<redacted>"]
    assert redact_text("GET /ws?token=abc&x=1 and abc", "abc") == "GET /ws?token=<redacted>&x=1 and <redacted>"


def test_an_empty_auth_token_is_an_error(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--auth-token", ""])
    assert exited.value.code == 2 and "empty" in capsys.readouterr().err
    with pytest.raises(ValueError):
        guards("", None)


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_listen_takes_a_comma_separated_list(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listen = "127.0.0.1,::1" if has_ipv6_loopback() else "127.0.0.1,localhost"
    proc = subprocess.Popen([sys.executable, "-m", "host.cli", "serve", "--memory-only", "--listen", listen,
                             "--port", str(port), "--output-directory", str(tmp_path / "o"), "--temp-directory",
                             str(tmp_path / "t"), "--user-directory", str(tmp_path / "u")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        bases = [f"http://127.0.0.1:{port}"] + ([f"http://[::1]:{port}"] if "::1" in listen else [])
        for base in bases:
            for _ in range(400):
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode()[-2000:] if proc.stderr else "exited")
                try:
                    urllib.request.urlopen(base + "/prompt", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise AssertionError(f"{base} never answered")
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stderr is not None:
            proc.stderr.close()
