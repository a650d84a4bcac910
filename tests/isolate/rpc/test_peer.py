"""The JSON-RPC peer over a real child's stdio (each behaviour its own test), plus framing in-process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from isolate.rpc import messages as m
from isolate.rpc.peer import MethodNotFound, Peer, PeerExited, RemoteError, RequestCancelled, RpcTimeout
from isolate.rpc.transport import ChildProcess, spawn_child

CHILD = Path(__file__).with_name("child_app.py")


@pytest.fixture
async def child():
    stderr: list[bytes] = []
    peer = Peer("test-child")
    peer.register("host_add", lambda p: p["a"] + p["b"])

    async def host_nest(params: dict[str, Any]) -> list[str]:
        below = await peer.call("nest", {"depth": params["depth"]})
        return [f"host-{params['depth'] + 1}", *below]

    peer.register("host_nest", host_nest)
    notes: list[Any] = []
    peer.register("note", notes.append)
    proc = await spawn_child([sys.executable, str(CHILD)], peer, on_stderr=stderr.append)
    proc.stderr = stderr  # type: ignore[attr-defined]
    proc.notes = notes  # type: ignore[attr-defined]
    yield proc
    await proc.close()


async def test_round_trip_of_json_values(child: ChildProcess) -> None:
    for value in [None, 1, 2.5, "text", [1, "a", None], {"k": {"nested": [True, False]}}]:
        assert await child.peer.call("echo", value) == value


async def test_framing_survives_newlines_unicode_and_large_payloads(child: ChildProcess) -> None:
    payload = {"s": "line1\nline2\r\n\u2028é漢字\x00", "big": "x\n" * 500_000}
    assert await child.peer.call("echo", payload) == payload


async def test_typed_result_decoding(child: ChildProcess) -> None:
    class Point(msgspec.Struct):
        x: int
        y: int

    assert await child.peer.call("echo", Point(1, 2), result_type=Point) == Point(1, 2)


async def test_remote_exception_arrives_typed(child: ChildProcess) -> None:
    with pytest.raises(RemoteError) as info:
        await child.peer.call("fail", {"msg": "broken pack"})
    err = info.value
    assert err.remote_type == "__main__.ChildError" and err.remote_message == "broken pack"
    assert "in fail" in err.remote_traceback and "ChildError: broken pack" in err.remote_traceback
    assert err.code == m.REMOTE_EXCEPTION


async def test_unknown_method(child: ChildProcess) -> None:
    with pytest.raises(MethodNotFound):
        await child.peer.call("nope")


async def test_callbacks_nest_in_both_directions(child: ChildProcess) -> None:
    assert await child.peer.call("callback", {"a": 41}) == 42
    assert await child.peer.call("nest", {"depth": 3}) == [
        "child-3", "host-3", "child-2", "host-2", "child-1", "host-1", "child-bottom"]


async def test_notifications_both_ways(child: ChildProcess) -> None:
    assert await child.peer.call("notify", {"hello": 1}) is True
    await asyncio.sleep(0.05)
    assert child.notes == [{"hello": 1}]  # type: ignore[attr-defined]
    child.peer.notify("echo", "ignored")  # a notification gets no answer
    assert await child.peer.call("echo", 5) == 5


async def test_thousand_concurrent_calls(child: ChildProcess) -> None:
    payload = "y" * 2000  # 1,000 x 2 KB each way: far beyond two 64 KB pipe buffers
    results = await asyncio.gather(*(child.peer.call("echo", [i, payload]) for i in range(1000)))
    assert [r[0] for r in results] == list(range(1000))


async def test_stdout_noise_never_corrupts_the_stream(child: ChildProcess) -> None:
    assert await child.peer.call("noisy", "payload") == "payload"
    await asyncio.sleep(0.05)
    err = b"".join(child.stderr)  # type: ignore[attr-defined]
    assert b"the child prints at import" in err and b"a C-level write to fd 1 at import" in err
    assert b"noise while serving" in err and b"raw fd-1 noise while serving" in err


async def eventually(child: ChildProcess, method: str, expected: int) -> None:
    """Poll a counter in the child (no fixed sleeps: the child may be slow to get there under load)."""
    for _ in range(1000):
        if await child.peer.call(method) == expected:
            return
        await asyncio.sleep(0.01)
    assert await child.peer.call(method) == expected


async def test_deadline_expires_and_the_child_cancels(child: ChildProcess) -> None:
    with pytest.raises(RpcTimeout):
        await child.peer.call("sleep", {"seconds": 5}, timeout=1.0)  # long enough for a loaded child to start it
    await eventually(child, "cancelled", 1)
    assert await child.peer.call("echo", "still fine") == "still fine"


async def test_cancelling_the_caller_cancels_the_remote_call(child: ChildProcess) -> None:
    task = asyncio.ensure_future(child.peer.call("sleep", {"seconds": 5}))
    await eventually(child, "started", 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(child, "cancelled", 1)


async def test_child_exit_mid_call_fails_pending_calls_with_status(child: ChildProcess) -> None:
    slow = asyncio.ensure_future(child.peer.call("sleep", {"seconds": 10}))
    with pytest.raises(PeerExited) as info:
        await child.peer.call("die", {"code": 3})
    assert info.value.exit_status == 3
    with pytest.raises(PeerExited):
        await slow
    with pytest.raises(PeerExited):
        await child.peer.call("echo", 1)


async def test_child_killed_by_signal(child: ChildProcess) -> None:
    with pytest.raises(PeerExited) as info:
        await child.peer.call("kill_self")
    assert info.value.exit_status == -9 and "signal 9" in str(info.value)


async def test_request_cancelled_error_type(child: ChildProcess) -> None:
    assert issubclass(RequestCancelled, RemoteError)


def test_feed_handles_partial_and_coalesced_frames() -> None:
    got: list[Any] = []

    async def main() -> None:
        peer = Peer("local")
        sent: list[bytes] = []
        peer.attach(sent.append)
        peer.register("n", got.append)
        frames = m.encode(m.Notification("n", "a\nb")) + m.encode(m.Notification("n", 2))
        for i in range(len(frames)):  # one byte at a time
            peer.feed(frames[i:i + 1])
        peer.feed(frames)  # two frames in one chunk
        peer.feed(b"{not json}\n")
        assert b"parse error" in sent[-1]

    asyncio.run(main())
    assert got == ["a\nb", 2, "a\nb", 2]
