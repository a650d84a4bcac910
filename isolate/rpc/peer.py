"""The JSON-RPC peer: the same class on both ends of a pipe pair (host <-> extension child).

Pure asyncio, loop-agnostic (it runs on whichever loop attaches it): incoming bytes are parsed in the
protocol's ``data_received`` callback, responses resolve the pending futures (a dict by id) right there, and
requests for synchronous handlers are answered inline; async handlers run as tasks, so calls nest in both
directions (the child calls back into the host while the host's call is pending). Writes go to the transport,
which never blocks the loop; a paused transport makes new calls wait for it to drain.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import traceback
from collections.abc import Callable
from typing import Any

import msgspec

from isolate.rpc import messages as m


class RpcError(Exception):
    """Base of the errors a call can raise."""


class RemoteError(RpcError):
    """The other side raised. ``remote_type``, ``remote_message`` and ``remote_traceback`` are the remote
    exception's, as they were there (nothing flattened)."""

    def __init__(self, method: str, code: int, message: str, data: m.ErrorData | None) -> None:
        self.method = method
        self.code = code
        self.remote_type = data.type if data else "RpcError"
        self.remote_message = data.message if data else message
        self.remote_traceback = data.traceback if data else ""
        super().__init__(f"{method}: {self.remote_type}: {self.remote_message}")


class MethodNotFound(RemoteError):
    pass


class RequestCancelled(RemoteError):
    pass


class PeerExited(RpcError, ConnectionError):
    """The other side's pipe closed; ``exit_status`` is its process exit status when known (a negative value
    is the signal that killed it)."""

    def __init__(self, name: str, exit_status: int | None) -> None:
        self.exit_status = exit_status
        how = "closed its pipe" if exit_status is None else (
            f"was killed by signal {-exit_status}" if exit_status < 0 else f"exited with status {exit_status}")
        super().__init__(f"peer {name!r} {how}")


class RpcTimeout(RpcError, TimeoutError):
    """The call's deadline passed; the other side was told to cancel it."""


Handler = Callable[[Any], Any]

_ERROR_TYPES: dict[int, type[RemoteError]] = {m.METHOD_NOT_FOUND: MethodNotFound,
                                               m.REQUEST_CANCELLED: RequestCancelled}


def exception_type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _error(id: int | None, code: int, exc: BaseException | None = None, message: str = "") -> m.Error:
    data = None
    if exc is not None:
        data = m.ErrorData(exception_type_name(exc), str(exc),
                           "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return m.Error(id, m.ErrorObject(code, message or (str(exc) if exc else "error"), data))


class Peer:
    """One end of a JSON-RPC connection. ``register`` handlers, ``attach`` a writer, ``feed`` it bytes."""

    def __init__(self, name: str = "peer") -> None:
        self.name = name
        self._handlers: dict[str, tuple[Handler, Any]] = {}
        self._pending: dict[int, tuple[asyncio.Future[m.Envelope], str]] = {}
        self._serving: dict[int, asyncio.Task[Any]] = {}
        self._ids = itertools.count(1)
        self._buffer = bytearray()
        self._write: Callable[[bytes], None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._lost: PeerExited | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed: asyncio.Future[PeerExited] | None = None
        #: while set, incoming requests for other methods wait in ``_held`` (a synchronous call in progress,
        #: see isolate/host_link.py); ``release_held`` dispatches them
        self.hold: frozenset[str] | None = None
        self._held: list[bytes] = []
        #: complete lines fed and not yet dispatched (see ``feed``)
        self._frames: collections.deque[bytes] = collections.deque()
        self.register(m.CANCEL_METHOD, self._cancel_incoming, m.CancelParams)

    # -- wiring -----------------------------------------------------------------------------------------
    def register(self, method: str, handler: Handler, params_type: Any = Any) -> None:
        """``handler(params)`` returns the result or an awaitable of it; params decode as ``params_type``."""
        self._handlers[method] = (handler, params_type)

    def attach(self, write: Callable[[bytes], None]) -> None:
        """Start sending through ``write`` (a transport's write); binds the peer to the running loop."""
        self.loop = asyncio.get_running_loop()
        self.closed = self.loop.create_future()
        self._write = write

    def pause_writing(self) -> None:
        if self._drained is None and self.loop is not None:
            self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None:
            if not self._drained.done():
                self._drained.set_result(None)
            self._drained = None

    def lost(self, exit_status: int | None = None) -> None:
        """The pipe closed (or the process exited): every pending call fails at once with PeerExited."""
        if self._lost is not None:
            if exit_status is not None and self._lost.exit_status is None:
                self._lost.exit_status = exit_status
            return
        self._lost = PeerExited(self.name, exit_status)
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(PeerExited(self.name, exit_status))
        self._pending.clear()
        for task in self._serving.values():
            task.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(self._lost)

    # -- outgoing ---------------------------------------------------------------------------------------
    def _send(self, message: m.Message) -> None:
        if self._lost is not None:
            raise PeerExited(self.name, self._lost.exit_status)
        assert self._write is not None, "attach() the peer to a transport first"
        self._write(m.encode(message))

    def notify(self, method: str, params: Any = None) -> None:
        self._send(m.Notification(method, params))

    def begin_call(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[m.Envelope]]:
        """Send a request now; its future gets the answer's envelope (``outcome`` reads it)."""
        call_id = next(self._ids)
        assert self.loop is not None, "attach() the peer to a transport first"
        fut: asyncio.Future[m.Envelope] = self.loop.create_future()
        self._pending[call_id] = (fut, method)
        self._send(m.Request(call_id, method, params))
        return call_id, fut

    async def call(self, method: str, params: Any = None, *, result_type: Any = Any,
                   timeout: float | None = None) -> Any:
        """Call ``method`` on the other side; raises RemoteError (typed), PeerExited or RpcTimeout. Cancelling
        the awaiting task tells the other side to cancel too."""
        if self._drained is not None:
            await self._drained
        call_id, fut = self.begin_call(method, params)
        assert self.loop is not None
        timer = self.loop.call_later(timeout, self._expire, call_id) if timeout is not None else None
        try:
            env = await fut
        except asyncio.CancelledError:
            if self._pending.pop(call_id, None) is not None and self._lost is None:
                self.notify(m.CANCEL_METHOD, m.CancelParams(call_id))
            raise
        finally:
            if timer is not None:
                timer.cancel()
        return outcome(method, env, result_type)

    def release_held(self) -> None:
        """Dispatch the requests that arrived while ``hold`` was set (in arrival order)."""
        while self._held and self.hold is None:
            self._dispatch(self._held.pop(0))

    def _expire(self, call_id: int) -> None:
        entry = self._pending.pop(call_id, None)
        if entry is None:
            return
        fut, method = entry
        if not fut.done():
            fut.set_exception(RpcTimeout(f"{self.name}: call {method!r} passed its deadline"))
        if self._lost is None:
            self.notify(m.CANCEL_METHOD, m.CancelParams(call_id))

    # -- incoming ---------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes from the pipe: every complete line is one message, dispatched in arrival order. Re-entrant: a
        node dispatched from here that calls the host synchronously (isolate/host_link.py) feeds the answer
        from inside its dispatch; the lines are taken out of the buffer first, so that nested feed never sees
        (and dispatches again) the request it is running in."""
        buf = self._buffer
        buf += data
        end = buf.rfind(b"\n")
        if end >= 0:
            self._frames.extend(bytes(buf[:end]).split(b"\n"))
            del buf[:end + 1]
        while self._frames:
            self._dispatch(self._frames.popleft())

    def _dispatch(self, frame: bytes) -> None:
        try:
            env = m.ENVELOPE_DECODER.decode(frame)
        except msgspec.DecodeError as exc:
            self._send(_error(None, m.PARSE_ERROR, exc, "parse error"))
            return
        if env.method is not None:
            if self.hold is not None and env.method not in self.hold:
                self._held.append(frame)
                return
            self._on_request(env)
            return
        entry = self._pending.pop(env.id, None) if env.id is not None else None
        if entry is not None and not entry[0].done():
            entry[0].set_result(env)

    def _on_request(self, env: m.Envelope) -> None:
        call_id = env.id
        entry = self._handlers.get(env.method)  # type: ignore[arg-type]
        if entry is None:
            if call_id is not None:
                self._send(m.Error(call_id, m.ErrorObject(m.METHOD_NOT_FOUND, f"method not found: {env.method}")))
            return
        handler, params_type = entry
        try:
            params = msgspec.json.decode(env.params) if params_type is Any else \
                msgspec.json.decode(env.params, type=params_type)
        except msgspec.ValidationError as exc:
            if call_id is not None:
                self._send(_error(call_id, m.INVALID_PARAMS, exc))
            return
        try:
            out = handler(params)
        except Exception as exc:
            if call_id is not None and self._lost is None:  # (the other side may have died meanwhile)
                self._send(_error(call_id, m.REMOTE_EXCEPTION, exc))
            return
        if inspect.isawaitable(out):
            task = asyncio.ensure_future(self._finish(call_id, out))
            if call_id is not None:
                self._serving[call_id] = task
        elif call_id is not None:
            self._reply(call_id, out)

    def _reply(self, call_id: int, result: Any) -> None:
        try:
            self._send(m.Result(call_id, result))
        except (TypeError, msgspec.EncodeError) as exc:
            self._send(_error(call_id, m.INTERNAL_ERROR, exc, "result cannot be encoded"))
        except PeerExited:
            pass

    async def _finish(self, call_id: int | None, awaitable: Any) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if call_id is not None and self._lost is None:
                self._send(m.Error(call_id, m.ErrorObject(m.REQUEST_CANCELLED, "request cancelled")))
            return
        except Exception as exc:
            if call_id is not None and self._lost is None:
                self._send(_error(call_id, m.REMOTE_EXCEPTION, exc))
            return
        finally:
            if call_id is not None:
                self._serving.pop(call_id, None)
        if call_id is not None and self._lost is None:
            self._reply(call_id, result)

    def _cancel_incoming(self, params: m.CancelParams) -> None:
        task = self._serving.pop(params.id, None)
        if task is not None:
            task.cancel()

    @property
    def pending(self) -> int:
        return len(self._pending)


def outcome(method: str, env: m.Envelope, result_type: Any = Any) -> Any:
    """The result an answer carries, decoded as ``result_type``; its error raised as the typed RemoteError."""
    if env.error is not None:
        err = env.error
        raise _ERROR_TYPES.get(err.code, RemoteError)(method, err.code, err.message, err.data)
    if result_type is Any:
        return msgspec.json.decode(env.result)  # type: ignore[arg-type]
    return msgspec.json.decode(env.result, type=result_type)  # type: ignore[arg-type]
