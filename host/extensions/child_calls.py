"""Synchronous calls from the host into a pack child while the host samples (a function the pack put in a
MODEL's model_options, called per step or per layer).

The host's sampler runs inline on the loop that owns the child (the executor's loop: a host KSampler node, or
the bridge answering the pack's ``comfy.sample.sample``), so it cannot await the answer. ``call_child`` sends
the request and then reads the child's stdout and stderr itself until the answer is there, feeding the peer,
which dispatches whatever else arrives meanwhile (the child's own calls into the host, its ``release``
notifications) as the loop would. The child answers at once: it is idle on its loop, or inside a synchronous
call to the host, where ``callback`` requests run re-entrantly (isolate/host_link.py).

A child that dies meanwhile fails the call at once with ``ExtensionCrashed`` (its exit status named); an
interrupt of the prompt gives the child ``interrupt_grace`` seconds to answer before it is killed. Called from
another thread, the call goes through the child's loop instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import select
import signal
import time
from typing import Any

from host.extensions.remote import ExtensionCrashed, RemoteNodeError
from isolate.context import InterruptProcessingException, interrupt_requested
from isolate.rpc.peer import PeerExited, RemoteError, outcome

_ids = itertools.count(1)
_INTERRUPT = f"{InterruptProcessingException.__module__}.{InterruptProcessingException.__qualname__}"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def call_child(runner: Any, method: str, params: dict[str, Any], what: str = "a callback") -> Any:
    """``method(params)`` in ``runner``'s child, params encoded (tensors through shm) and the answer decoded.
    Tensors sent meanwhile are held until the answer is decoded (the child may send one straight back)."""
    hold = f"{runner.name}/callback-{next(_ids)}"
    try:
        with runner.holding(hold):
            wire = runner.codec.encode(params)
            loop = _running_loop()
            if runner.loop is not None and loop is not runner.loop:
                raw = asyncio.run_coroutine_threadsafe(runner._call(method, wire), runner.loop).result()
            else:
                raw = _pumped(runner, method, wire, what)
            return runner.codec.decode(raw)
    finally:
        runner.shm.release_owner(hold)


def _pipe_fd(child: Any, fd: int) -> int | None:
    pipe = child.transport.get_pipe_transport(fd)
    file = pipe.get_extra_info("pipe") if pipe is not None else None
    return file.fileno() if file is not None else None


def _flush_stdin(child: Any) -> None:
    """What the loop's pipe transport still buffers for the child's stdin, written now (the loop is not
    running meanwhile to write it)."""
    stdin = child.transport.get_pipe_transport(0)
    if stdin is None or not stdin.get_write_buffer_size():
        return
    fd = _pipe_fd(child, 0)
    write_ready = getattr(stdin, "_write_ready", None)
    if fd is not None and write_ready is not None and select.select([], [fd], [], 0.05)[1]:
        write_ready()


def _exit_status(child: Any, loop: Any, wait: float = 2.0) -> int | None:
    """The child's exit status once it has exited (negative: the signal), while the loop is held here: looked at
    without reaping it, or, when the loop's child watcher thread has reaped it already, read from the callback
    that watcher queued for the loop (``(pid, returncode, ...)``)."""
    deadline = time.monotonic() + wait
    while True:
        status = _peek_status(child, loop)
        if status is not None:
            mapping = getattr(child._protocol, "exit_status", None)
            return mapping(status) if mapping is not None else status
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def _peek_status(child: Any, loop: Any) -> int | None:
    if child.returncode is not None:
        return child.returncode
    try:
        info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        info = None
    if info is not None:
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
    for handle in list(getattr(loop, "_ready", ())):
        args = getattr(handle, "_args", None) or ()
        if len(args) >= 2 and args[0] == child.pid and isinstance(args[1], int):
            return args[1]
    return None


def _pumped(runner: Any, method: str, wire: Any, what: str) -> Any:
    child = runner.child
    if child is None or not child.alive:
        raise ExtensionCrashed(f"extension {runner.name!r} is not running: {what} cannot be called (its process "
                               "ended since it patched this MODEL; run its node again)")
    peer = child.peer
    out_fd, err_fd = _pipe_fd(child, 1), _pipe_fd(child, 2)
    fds = [fd for fd in (out_fd, err_fd) if fd is not None]
    _, fut = peer.begin_call(method, wire)
    interrupted_at: float | None = None
    runner._in_flight += 1
    try:
        while not fut.done():
            _flush_stdin(child)
            ready, _, _ = select.select(fds, [], [], 0.2)
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if fd == out_fd:
                    if not data:
                        peer.lost(_exit_status(child, runner.loop))
                        break
                    peer.feed(data)
                elif data:
                    runner._on_output(data)
                else:
                    fds.remove(fd)
            if not ready and not child.alive:
                peer.lost(_exit_status(child, runner.loop))
            if interrupted_at is None and interrupt_requested():
                interrupted_at = time.monotonic()
            if interrupted_at is not None and time.monotonic() - interrupted_at > runner.interrupt_grace:
                child.send_signal(signal.SIGKILL)
        env = fut.result()
    except PeerExited as exc:
        runner.shm.release_owner(runner.name)
        if interrupted_at is not None:
            raise InterruptProcessingException() from exc
        raise ExtensionCrashed(f"extension {runner.name!r} {str(exc).split(' ', 2)[-1]} while the host called "
                               f"{what}") from exc
    finally:
        runner._in_flight -= 1
    try:
        return outcome(method, env)
    except RemoteError as exc:
        if exc.remote_type == _INTERRUPT:  # the pack's function saw the interrupt and stopped
            raise InterruptProcessingException() from exc
        raise RemoteNodeError(exc) from exc
