"""A child that calls the host the moment it starts (a pack whose import asks the host for something) gets its
answer even when the host's loop is busy while the child's pipes connect: the peer is attached when asyncio
connects the child (connection_made), before any of the child's output is delivered."""

from __future__ import annotations

import asyncio
import sys
import time

import msgspec
import pytest

from isolate.rpc import messages as m
from isolate.rpc.peer import Peer
from isolate.rpc.transport import _ChildProtocol, spawn_child

pytestmark = pytest.mark.timeout(60)

# writes a request as its first act, then exits 0 if the next line on stdin answers it
EAGER = """
import os, sys, json
os.write(1, b'{"id":1,"method":"hello","params":null,"jsonrpc":"2.0"}\\n')
line = sys.stdin.readline()
sys.exit(0 if json.loads(line).get("result") == "hi" else 3)
"""


async def test_a_request_written_before_the_spawn_returns_is_answered() -> None:
    peer = Peer("eager")
    peer.register("hello", lambda params: "hi")
    spawn = asyncio.ensure_future(spawn_child([sys.executable, "-c", EAGER], peer, on_stderr=lambda b: None))
    while not spawn.done():  # a busy host: each turn of the loop blocks, the child writes meanwhile
        time.sleep(0.05)
        await asyncio.sleep(0)
    child = spawn.result()
    assert await asyncio.wait_for(asyncio.shield(child._protocol.exited), 30) == 0
    await child.close()


class _Pipe:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)


class _Transport:
    def __init__(self, stdin: _Pipe) -> None:
        self.stdin = stdin

    def get_pipe_transport(self, fd: int) -> _Pipe | None:
        return self.stdin if fd == 0 else None


async def test_the_protocol_attaches_the_peer_on_connection() -> None:
    peer = Peer("p")
    peer.register("hello", lambda params: "hi")
    protocol = _ChildProtocol(peer, None)
    stdin = _Pipe()
    protocol.connection_made(_Transport(stdin))  # type: ignore[arg-type]
    protocol.pipe_data_received(1, m.encode(m.Request(1, "hello")))
    assert [msgspec.json.decode(frame)["result"] for frame in stdin.data] == ["hi"]
