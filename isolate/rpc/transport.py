"""Connecting a Peer to pipes: spawning a child with its stdin/stdout as the connection (host side), and
serving on the inherited stdin and protocol fd (child side). Everything runs on the caller's loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

from isolate.rpc.peer import Peer


class _ChildProtocol(asyncio.SubprocessProtocol):
    """Feeds the child's stdout to the peer; when the process has exited and its stdout is drained, the peer
    fails what is still pending with the exit status."""

    def __init__(self, peer: Peer, on_stderr: Callable[[bytes], None] | None,
                 exit_status: Callable[[int], int] | None = None) -> None:
        self.peer = peer
        self.on_stderr = on_stderr
        self.exit_status = exit_status
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.SubprocessTransport | None = None
        self._stdout_closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # attach here, not after subprocess_exec returns: asyncio calls connection_made before any
        # pipe_data_received, but the output a fast child wrote while its pipes connected (a request it makes at
        # import) is delivered before the spawning task resumes; answering it needs the peer attached
        stdin = transport.get_pipe_transport(0)  # type: ignore[attr-defined]
        if stdin is not None:
            self.peer.attach(stdin.write)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.peer.feed(data)
        elif self.on_stderr is not None:
            self.on_stderr(data)

    def pause_writing(self) -> None:
        self.peer.pause_writing()

    def resume_writing(self) -> None:
        self.peer.resume_writing()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._stdout_closed = True
            self._maybe_lost()

    def process_exited(self) -> None:
        assert self.transport is not None
        code = self.transport.get_returncode()
        if not self.exited.done():
            code = code if code is not None else -1
            self.exited.set_result(self.exit_status(code) if self.exit_status is not None else code)
        self._maybe_lost()

    def _maybe_lost(self) -> None:
        if self._stdout_closed and self.exited.done():
            self.peer.lost(self.exited.result())


class ChildProcess:
    """A spawned child speaking JSON-RPC on its stdin/stdout."""

    def __init__(self, peer: Peer, transport: asyncio.SubprocessTransport, protocol: _ChildProtocol) -> None:
        self.peer = peer
        self.transport = transport
        self._protocol = protocol
        self.pid: int = transport.get_pid()

    @property
    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    @property
    def alive(self) -> bool:
        """Running, by the kernel's account: a child that died a moment ago counts as dead even before the loop
        has reaped it (``returncode`` is still None then) or read the end of its output."""
        if self.returncode is not None or self._protocol._stdout_closed:
            return False
        try:  # WNOWAIT: look without reaping (the loop's child watcher still collects the status)
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:  # already reaped: the loop learns it on its next turn
            return False

    def send_signal(self, sig: int = signal.SIGKILL) -> None:
        if self.returncode is None:
            self.transport.send_signal(sig)

    async def wait(self) -> int:
        return await self._protocol.exited

    async def close(self, timeout: float = 5.0) -> int:
        """Close the child's stdin (it exits on EOF); kill it if it does not exit in ``timeout``."""
        stdin = self.transport.get_pipe_transport(0)
        if stdin is not None:
            stdin.close()
        try:
            return await asyncio.wait_for(asyncio.shield(self._protocol.exited), timeout)
        except TimeoutError:
            self.send_signal(signal.SIGKILL)
            return await self._protocol.exited
        finally:
            self.transport.close()


async def spawn_child(argv: Sequence[str], peer: Peer, *, env: dict[str, str] | None = None, cwd: str | None = None,
                      on_stderr: Callable[[bytes], None] | None = None,
                      exit_status: Callable[[int], int] | None = None, **popen: Any) -> ChildProcess:
    """Start ``argv`` with its stdin/stdout connected to ``peer``; stderr goes to ``on_stderr`` (or is inherited).
    The peer fails every pending call with the exit status when the child exits (``exit_status`` maps it first:
    a wrapper such as bwrap reports its child's death by signal N as status 128 + N)."""
    loop = asyncio.get_running_loop()
    protocol: _ChildProtocol | None = None

    def factory() -> _ChildProtocol:
        nonlocal protocol
        protocol = _ChildProtocol(peer, on_stderr, exit_status)
        return protocol

    transport, _ = await loop.subprocess_exec(
        factory, *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if on_stderr is not None else None, env=env, cwd=cwd, **popen)
    assert protocol is not None and peer.loop is not None  # attached in connection_made
    return ChildProcess(peer, transport, protocol)


class _ReadProtocol(asyncio.Protocol):
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def data_received(self, data: bytes) -> None:
        self.peer.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.lost(None)


class BlockingWriter:
    """Child side: every frame written whole to the protocol fd before ``write`` returns, from any thread (a
    lock keeps frames apart). The host always reads its end, so a write waits at most for the pipe to drain;
    a synchronous call made while the loop is blocked (isolate/host_link.py) needs exactly this."""

    def __init__(self, fd: int, peer: Peer) -> None:
        self.fd, self.peer = fd, peer
        os.set_blocking(fd, True)
        self._lock = threading.Lock()

    def __call__(self, data: bytes) -> None:
        view = memoryview(data)
        with self._lock:
            try:
                while view:
                    view = view[os.write(self.fd, view):]
            except OSError:  # the host is gone
                self.peer.lost(None)
                raise


async def attach_stdio(peer: Peer, proto_fd: int, stdin_fd: int = 0) -> None:
    """Child side: connect ``peer`` to (stdin, ``proto_fd``) and return; the loop feeds it from then on."""
    loop = asyncio.get_running_loop()
    peer.attach(BlockingWriter(proto_fd, peer))
    await loop.connect_read_pipe(lambda: _ReadProtocol(peer), os.fdopen(stdin_fd, "rb", buffering=0))


async def serve_stdio(peer: Peer, proto_fd: int, stdin_fd: int = 0) -> None:
    """Child side: speak on (stdin, ``proto_fd``) until the host closes the pipe."""
    await attach_stdio(peer, proto_fd, stdin_fd)
    assert peer.closed is not None
    await peer.closed
