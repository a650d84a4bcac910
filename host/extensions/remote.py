"""The runner for nodes that live in an extension child: the same runner protocol as in-process nodes, over
JSON-RPC. The executor never knows the difference."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from host.executor.errors import NodeNotFoundError
from host.executor.runner import NodeRunner
from isolate import protocol as p
from isolate.calls import NodeCall, NodeResult
from isolate.codec import Codec
from isolate.context import CURRENT_NODE, InterruptProcessingException, ProgressHook
from isolate.rpc.peer import Peer, PeerExited, RemoteError, RpcTimeout
from isolate.rpc.transport import ChildProcess, spawn_child
from isolate.shm import ShmHost, TensorHandle

_INTERRUPT = f"{InterruptProcessingException.__module__}.{InterruptProcessingException.__qualname__}"
#: the shm owner that holds, for the call being encoded, one more reference to every tensor it sends
_CALL_HOLD: contextvars.ContextVar[str | None] = contextvars.ContextVar("nodehost_call_hold", default=None)


def decode_preview(preview: list[Any] | None) -> Any:
    """A child's encoded preview back to ``(format, PIL.Image, max_size)``."""
    if not preview:
        return None
    import base64
    import io

    from PIL import Image

    fmt, data, max_size = preview
    return (fmt, Image.open(io.BytesIO(base64.b64decode(data))), max_size)


class ExtensionCrashed(RuntimeError):
    """The pack's process died while running a node (the message names the pack and the exit status)."""

    exception_type = "ExtensionCrashed"


class PackReloadFailed(RuntimeError):
    """The pack's edited code failed to import when it was reloaded (``nodehost serve --watch-packs``): its nodes
    keep their definitions from before the edit, and calls fail with this until it imports again."""

    exception_type = "PackReloadFailed"


class RemoteNodeError(RuntimeError):
    """A node raised inside its pack's process: type, message and traceback are the child's."""

    def __init__(self, err: RemoteError) -> None:
        super().__init__(err.remote_message)
        self.exception_type = err.remote_type
        self.traceback_lines = err.remote_traceback.splitlines(keepends=True)


class RemoteRunner(NodeRunner):
    """Runs one pack's nodes in its child process (started by ``start``, restarted after a crash)."""

    def __init__(self, name: str, pack_dir: Path, python: str = sys.executable,
                 env: dict[str, str] | None = None, shm: ShmHost | None = None,
                 folders: dict[str, Any] | None = None) -> None:
        self.name = name
        self.pack_dir = pack_dir
        self.python = python
        self.env = env
        self.child: ChildProcess | None = None
        #: the host's folders for the child's folder_paths (NODEHOST_FOLDERS, see isolate/child_services.py)
        self.folders = folders
        self._own_shm = shm is None
        #: the host's shared memory (one per host process, passed in); tensors cross as handles owned here
        self.shm = shm if shm is not None else ShmHost()
        self.codec = Codec(owner="host", export=self._export,
                           open=lambda h: self.shm.open(msgspec.convert(h, TensorHandle)), patched=self._patched)
        self._call_ids = itertools.count(1)
        #: the child's recent output (stdout and stderr both arrive here), also logged as nodehost.ext.<name>
        self.stderr: deque[bytes] = deque(maxlen=500)
        self._log = logging.getLogger(f"nodehost.ext.{name}")
        #: the progress hook of each prompt with a call in flight here (progress arrives as notifications)
        self._hooks: dict[str, tuple[ProgressHook, int]] = {}
        #: seconds a child may ignore an interrupt before it is killed
        self.interrupt_grace = 2.0
        #: deadline of the calls that must be quick (VALIDATE_INPUTS, IS_CHANGED, check_lazy_status); a node
        #: body has none (it may legitimately run for minutes: interrupt it instead)
        self.check_deadline = 60.0
        self._in_flight = 0
        self._interrupting = False
        #: the loop that owns the child (its peer and spawning thread); set by start()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Future[Any] | None = None
        #: where the pack's PromptServer.instance.send_sync(event, data, sid) and send_progress_text(text,
        #: node_id, sid) go (the server sets them; called on the runner's loop)
        self.on_message: Callable[[str, Any, str | None], None] | None = None
        self.on_text: Callable[[str, str, str | None], None] | None = None
        #: the pack's WEB_DIRECTORY (relative to the pack folder), served under /extensions/<pack>/
        self.web_directory: str | None = None
        #: HTTP routes the pack registered (``{"method", "path"}``), served by its child
        self.routes: list[dict[str, str]] = []
        #: spawns the child instead of spawn_child when set (isolate.sandbox.SandboxLauncher: under bwrap)
        self.launcher: Any = None
        #: answers the pack's calls into the host (core nodes, model proxies: host/extensions/bridge.py)
        self.bridge: Any = None
        #: the executor's context of each prompt with a call in flight here (host calls run in it)
        self._contexts: dict[str, Any] = {}
        #: the shm hold owners of the execute calls in flight: tensors the host sends while one runs (answers to
        #: the pack's calls into the host) are held until its result is decoded, as its inputs are
        self._executing: set[str] = set()
        #: children started, and found dead and replaced (/metrics)
        self.starts = self.crashes = 0
        #: set when a reload found the pack's new code failing to import (its error); calls raise PackReloadFailed
        self.failed: str | None = None
        #: the node classes the running child defines, and why it defines none when its import failed (a child
        #: started on first use, its nodes registered from the cache: host/extensions/packs.py)
        self.defined: set[str] | None = None
        self.load_error = ""
        #: host functions the child may call while one of its callbacks runs (a model_function_wrapper's
        #: apply_model: host/extensions/model_patches.py), by id
        self.live: dict[int, Callable[..., Any]] = {}

    def _patched(self, base: Any, payload: Any) -> Any:
        """A pack's patched clone of one of the host's models, as a host clone (host/extensions/model_patches.py)."""
        from host.extensions.model_patches import patched_clone

        return patched_clone(self, base, payload)

    @contextlib.contextmanager
    def holding(self, owner: str) -> Iterator[None]:
        """Tensors sent to the child meanwhile are also held by ``owner`` (released by the caller), not by the
        execute calls in flight."""
        token = _CALL_HOLD.set(owner)
        try:
            yield
        finally:
            _CALL_HOLD.reset(token)

    async def start(self) -> p.PackInfo:
        """Spawn the child (on the running loop: its thread owns the child) and read its node definitions."""
        self.loop = asyncio.get_running_loop()
        self.starts += 1
        peer = Peer(self.name)
        peer.register("progress", self._progress, p.ProgressParams)
        peer.register("grant_slab", lambda g: self.shm.grant_slab(self.name, g.min_bytes), p.GrantParams)
        peer.register("release", self._release, p.ReleaseParams)
        peer.register("send_sync", self._send_sync)
        peer.register("send_progress_text", self._send_text)
        if self.bridge is not None:
            self.bridge.install(peer, self)
        # absolute (links kept: a venv's python is one): a sandboxed child starts in its own folder, so a relative
        # --extensions-dir / --envs-dir would point nowhere there
        argv = [os.path.abspath(self.python), "-I", "-m", "isolate.child", os.path.abspath(self.pack_dir), self.name]
        env = {k: v for k, v in (self.env or os.environ).items() if k not in ("PYTHONPATH", "PYTHONHOME",
                                                                            "VIRTUAL_ENV")}
        env["NODEHOST_PARENT_PID"] = str(os.getpid())
        if self.folders is not None:
            env["NODEHOST_FOLDERS"] = json.dumps(self.folders)
        if self.shm.directory != "/dev/shm":  # the host keeps its segments in its own folder
            env["NODEHOST_SHM_DIR"] = self.shm.directory
        spawn = self.launcher.spawn if self.launcher is not None else spawn_child
        self.child = await spawn(argv, peer, env=env, on_stderr=self._on_output)
        info: p.PackInfo = await peer.call("list_nodes", result_type=p.PackInfo, timeout=120)
        self.defined = {n.name for n in info.nodes}
        failure = info.failures.get("<import>", "").split("while importing, the pack\n")[0].strip()
        self.load_error = failure.splitlines()[-1] if failure else ""
        return info

    async def ensure_started(self) -> None:
        """Start the child if it is not running (once, however many callers ask at the same time); a dead one is
        cleaned up and replaced."""
        if self.child is not None and self.child.alive:
            return
        if self._starting is None or self._starting.done():
            if self.child is not None:
                self.crashes += 1
                self.child.transport.close()  # the dead one
                self.shm.release_owner(self.name)  # and everything it held
                self.child = None
            self._starting = asyncio.ensure_future(self.start())
        await asyncio.shield(self._starting)

    async def restart(self) -> p.PackInfo:
        """Replace the child by a new one that reads the pack's sources again; the new child's PackInfo. Calls
        made meanwhile wait for it (as for a first start); the caller makes sure no node runs here."""
        if self._starting is not None and not self._starting.done():
            await asyncio.gather(self._starting, return_exceptions=True)
        old, self.child = self.child, None
        self._starting = asyncio.ensure_future(self._start_after(old))
        return await asyncio.shield(self._starting)

    async def _start_after(self, old: ChildProcess | None) -> p.PackInfo:
        if old is not None:
            await old.close()
        self.shm.release_owner(self.name)  # everything the old child held
        return await self.start()

    async def stop_child(self) -> None:
        """Stop the child (a reload whose import failed: nothing can run there); the runner stays usable."""
        child, self.child = self.child, None
        if child is not None:
            await child.close()
        self.shm.release_owner(self.name)

    async def _peer(self) -> Peer:
        await self.ensure_started()
        assert self.child is not None
        return self.child.peer

    async def _call(self, method: str, params: Any, result_type: Any = Any, timeout: float | None = None) -> Any:
        if self.loop is not None and asyncio.get_running_loop() is not self.loop:
            # called from another loop (the server's validation thread): run it on the loop owning the child
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self._call(method, params, result_type, timeout), self.loop))
        if self.failed is not None:
            raise PackReloadFailed(f"pack {self.name!r} failed to import after its files changed: {self.failed} "
                                   "(its nodes are those from before the edit; they run again once it imports)")
        peer = await self._peer()
        class_type = getattr(params, "class_type", None)
        if class_type is not None and self.defined is not None and class_type not in self.defined:
            why = f"failed to load: {self.load_error}" if self.load_error else "does not define it now"
            raise NodeNotFoundError(class_type, f"node pack {self.name!r} {why} (it did when its nodes were "
                                                "registered)")
        self._in_flight += 1
        try:
            return await peer.call(method, params, result_type=result_type, timeout=timeout)
        except RpcTimeout as exc:
            raise TimeoutError(f"extension {self.name!r}: {method} took longer than {timeout} s") from exc
        except PeerExited as exc:
            self.shm.release_owner(self.name)
            if self._interrupting:  # killed because it ignored an interrupt
                raise InterruptProcessingException() from exc
            raise ExtensionCrashed(f"extension {self.name!r}: {str(exc).split(' ', 2)[-1]}") from exc
        except RemoteError as exc:
            if exc.remote_type == _INTERRUPT:
                raise InterruptProcessingException() from exc
            raise RemoteNodeError(exc) from exc
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._interrupting = False

    def _progress(self, params: p.ProgressParams) -> None:
        hook, _ = self._hooks.get(params.prompt_id, (None, 0))
        if hook is not None:
            try:
                hook.progress(params.node_id, params.value, params.max, decode_preview(params.preview),
                              params.legacy)
            except InterruptProcessingException:
                self.interrupt()

    def _send_sync(self, params: Any) -> None:
        if self.on_message is not None and isinstance(params, dict) and isinstance(params.get("event"), str):
            self.on_message(params["event"], params.get("data"), params.get("sid"))

    def _send_text(self, params: Any) -> None:
        if self.on_text is not None and isinstance(params, dict):
            self.on_text(str(params.get("text", "")), str(params.get("node_id", "")), params.get("sid"))

    def _on_output(self, data: bytes) -> None:
        self.stderr.append(data)
        for line in data.decode(errors="replace").splitlines():
            if line.strip():
                self._log.info("%s", line)

    def _export(self, tensor: Any) -> TensorHandle:
        """A tensor sent to the child: one reference for the child (given back by its ``release``), and one for
        the call being encoded, if any (see ``execute``)."""
        handle = self.shm.export(tensor, owner=self.name)
        hold = _CALL_HOLD.get()
        holds = [hold] if hold is not None else list(self._executing)
        if handle.segment:
            for owner in holds:  # a host call's answer (bridge) may be passed through to the node's outputs too
                self.shm.acquire(handle, owner)
        return handle

    def _release(self, params: p.ReleaseParams) -> None:
        for item in params.items:
            target = item if isinstance(item, str) else msgspec.convert(item, TensorHandle)
            self.shm.release(target, self.name)

    async def http(self, request: p.HttpRequest) -> p.HttpResponse:
        """Forward a request for one of the pack's routes to its child (a 30 s deadline)."""
        return await self._call("http", request, p.HttpResponse, timeout=30.0)

    def interrupt(self) -> None:
        """Interrupt the node running in the child: at its next progress update or interrupt check (SIGUSR1),
        and, if it is still busy ``interrupt_grace`` seconds later, by killing the child (restarted on the next
        call). Thread-safe: the timer is set on the runner's own loop."""
        child = self.child
        if child is None or child.returncode is not None or self._in_flight == 0:
            return
        child.send_signal(signal.SIGUSR1)
        self._interrupting = True
        loop = child.peer.loop
        if loop is not None:
            loop.call_soon_threadsafe(loop.call_later, self.interrupt_grace, self._kill_if_busy, child)

    def _kill_if_busy(self, child: ChildProcess) -> None:
        if self._interrupting and self._in_flight and child is self.child and child.returncode is None:
            child.send_signal(signal.SIGKILL)

    # -- the runner protocol ----------------------------------------------------------------------------
    async def validate(self, class_type: str, kwargs: dict[str, Any]) -> Any:
        return await self._call("validate", p.ClassCall(class_type, self.codec.encode(kwargs)),
                                timeout=self.check_deadline)

    async def fingerprint(self, class_type: str, kwargs: dict[str, Any]) -> Any:
        out = await self._call("fingerprint", p.ClassCall(class_type, self.codec.encode(kwargs)),
                               timeout=self.check_deadline)
        return self.codec.decode(out)

    def _wire(self, call: NodeCall) -> p.WireCall:
        hidden = self.codec.encode(dict(call.hidden)) if call.hidden else None
        return p.WireCall(call.prompt_id, call.node_id, call.class_type, call.index,
                          self.codec.encode(call.inputs), hidden)

    async def check_lazy(self, call: NodeCall) -> list[str]:
        with self._hook_of(call):
            return await self._call("check_lazy", self._wire(call), timeout=self.check_deadline)

    async def execute(self, call: NodeCall) -> NodeResult:
        """The child may pass an input tensor through to its outputs and let go of its view before its answer
        is read (its ``release`` can arrive first): the call holds its inputs until the answer is decoded."""
        hold = f"{self.name}/call-{next(self._call_ids)}"
        token = _CALL_HOLD.set(hold)
        try:
            wire = self._wire(call)
        finally:
            _CALL_HOLD.reset(token)
        self._executing.add(hold)
        try:
            with self._hook_of(call):
                out = await self._call("execute", wire, p.WireResult)
            return NodeResult(values=tuple(self.codec.decode(out.values)), ui=self.codec.decode(out.ui),
                              expand=self.codec.decode(out.expand))
        finally:
            self._executing.discard(hold)
            self.shm.release_owner(hold)

    @contextlib.contextmanager
    def _hook_of(self, call: NodeCall) -> Iterator[None]:
        """The prompt's progress hook is known here while one of its calls is in flight, and only then (a
        hook holds its prompt's whole run: kept longer, it would keep every output of that prompt alive)."""
        ctx = CURRENT_NODE.get()
        if ctx is None or ctx.hook is None:
            yield
            return
        hook, count = self._hooks.get(call.prompt_id, (ctx.hook, 0))
        self._hooks[call.prompt_id] = (hook, count + 1)
        self._contexts[call.prompt_id] = ctx
        try:
            yield
        finally:
            hook, count = self._hooks[call.prompt_id]
            if count > 1:
                self._hooks[call.prompt_id] = (hook, count - 1)
            else:
                del self._hooks[call.prompt_id]
                self._contexts.pop(call.prompt_id, None)

    def context_of(self, prompt_id: str) -> Any:
        """The executor's NodeContext of a prompt whose call is in flight here (None: none is)."""
        return self._contexts.get(prompt_id)

    def drop(self, keys: list[tuple[str, str]] | None = None) -> None:
        if self.child is not None and self.child.alive:  # a child that died in a callback: nothing to drop
            self.child.peer.notify("drop", p.DropParams(keys))

    async def close(self) -> None:
        if self._starting is not None and not self._starting.done():  # a start in flight would orphan its child
            await asyncio.gather(self._starting, return_exceptions=True)
        if self.child is not None:
            await self.child.close()
            self.child = None
        self.shm.release_owner(self.name)
        if self._own_shm:
            self.shm.close()
