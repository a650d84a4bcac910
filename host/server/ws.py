"""WebSocket clients and the routing of execution events to them (COMPAT §2).

Events arrive from the executor's thread through ``ServerSink.emit`` (thread-safe) and are turned into
``{"type", "data"}`` messages on the server's loop. A prompt's messages go only to the socket whose sid is the
prompt's client_id; without a client_id, ``execution_*``/``executing``/``executed`` are dropped (except
``execution_interrupted``, broadcast) while ``progress`` and ``progress_state`` are broadcast, as ComfyUI does.
``progress_state`` is built here, per prompt, from the executor's node-state events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from host.executor.events import (
    Event,
    ExecutionInterrupted,
    NodeState,
    ProgressPreview,
    event_data,
    event_type,
)
from host.server.jsontext import dumps
from host.server.outbox import ClientOutbox
from isolate.previews import encode_image

log = logging.getLogger("nodehost.server")

SERVER_FEATURES = {"supports_preview_metadata": True, "max_upload_size": 100 * 1024 * 1024,
                   "extension": {"manager": {"supports_v4": True}}}
#: the largest message a client may send (ComfyUI's default, 4 MB); a bigger frame closes the socket (1009)
MAX_CLIENT_MESSAGE = 4 * 1024 * 1024
_ALWAYS_ROUTED = {"execution_start", "execution_cached", "execution_success", "execution_error", "executing",
                  "executed"}


class WebSockets:
    """Connected sockets by sid; sends are serialized per socket by aiohttp."""

    def __init__(self, **outbox_limits: Any) -> None:
        #: ClientOutbox settings (max_items, max_bytes, deadline) for every client
        self.outbox_limits = outbox_limits
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.flags: dict[str, dict[str, Any]] = {}
        self.client_of: dict[str, str | None] = {}  # prompt_id -> client_id
        self.progress: dict[str, dict[str, dict[str, Any]]] = {}  # prompt_id -> node -> state
        self.last_node: dict[str, str] = {}  # client_id -> node executing
        self._outbox: asyncio.Queue[tuple[dict[str, Any] | str, str | None]] | None = None
        #: prompts with a progress_state snapshot queued but not sent yet: later updates fold into it
        self._snapshot_queued: set[str] = set()
        self._publisher: asyncio.Task[None] | None = None
        #: sid -> that client's bounded outbox and sender (a slow client never holds up the others)
        self.outboxes: dict[str, ClientOutbox] = {}

    def start(self) -> None:
        """Start the one publisher task: every message goes out in the order it was queued."""
        self._outbox = asyncio.Queue()
        self._publisher = asyncio.ensure_future(self._publish())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
        for outbox in list(self.outboxes.values()):
            await outbox.stop()
        for ws in list(self.sockets.values()):
            await ws.close()

    async def _publish(self) -> None:
        assert self._outbox is not None
        while True:
            message, sid = await self._outbox.get()
            if isinstance(message, str):  # a progress_state snapshot, built now: the latest state, complete
                self._snapshot_queued.discard(message)
                nodes = self.progress.get(message)
                if nodes is None:
                    continue
                message = {"type": "progress_state", "data": {"prompt_id": message, "nodes": dict(nodes)}}
            await self.send(message, sid)

    async def send(self, message: dict[str, Any], sid: str | None) -> None:
        if message.get("type") == "__forget__":
            self.progress.pop(message["prompt_id"], None)
            return
        if message.get("type") == "__preview__":
            await self.send_preview(message["event"], sid)
            return
        if message.get("type") == "__text__":
            await self.send_text_frame(message["node_id"], message["text"], sid)
            return
        text = dumps(message)
        key = coalescing_key(message)
        for outbox in self._targets(sid):
            outbox.put(text, key)

    def _targets(self, sid: str | None) -> list[ClientOutbox]:
        if sid is None:
            return list(self.outboxes.values())
        outbox = self.outboxes.get(sid)
        return [outbox] if outbox is not None else []

    def send_soon(self, message: dict[str, Any], sid: str | None) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait((message, sid))

    def route(self, event: Event) -> None:
        """One executor event -> WebSocket message(s), routed by the prompt's client."""
        prompt_id = getattr(event, "prompt_id", None)
        client = self.client_of.get(prompt_id) if prompt_id else None
        if isinstance(event, ProgressPreview):
            if self._outbox is not None:
                self._outbox.put_nowait(({"type": "__preview__", "event": event}, client))
            return
        if isinstance(event, NodeState):
            self.update_progress(event)
            if event.prompt_id not in self._snapshot_queued and self._outbox is not None:
                self._snapshot_queued.add(event.prompt_id)
                self._outbox.put_nowait((event.prompt_id, client))
            return
        kind = event_type(event)
        data = event_data(event)
        if kind == "executing" and client is not None:
            self.last_node[client] = data["node"]
        if kind in _ALWAYS_ROUTED:
            if client is not None:
                self.send_soon({"type": kind, "data": data}, client)
            return
        if isinstance(event, ExecutionInterrupted):
            self.send_soon({"type": kind, "data": data}, client)  # broadcast when the prompt has no client
            return
        self.send_soon({"type": kind, "data": data}, client)  # progress: broadcast without a client

    async def send_preview(self, event: ProgressPreview, sid: str | None) -> None:
        """§2.4 binary frames: type 4 (with metadata) to clients that said ``supports_preview_metadata``,
        type 1 (image type + bytes) to the others."""
        encoded = await asyncio.to_thread(encode_preview, event.image)
        if encoded is None:
            return
        mime, image_type, data = encoded
        meta = json.dumps({"node_id": event.node_id, "prompt_id": event.prompt_id,
                           "display_node_id": event.display_node_id, "parent_node_id": event.parent_node_id,
                           "real_node_id": event.real_node_id, "image_type": mime}).encode()
        with_meta = struct.pack(">II", 4, len(meta)) + meta + data
        plain = struct.pack(">II", 1, image_type) + data
        key = ("preview", event.prompt_id, event.node_id)
        for outbox in self._targets(sid):
            meta_ok = self.flags.get(outbox.sid, {}).get("supports_preview_metadata")
            outbox.put(with_meta if meta_ok else plain, key)

    async def send_text_frame(self, node_id: str, text: str, sid: str | None) -> None:
        """§2.4 type 3: ``uint32 3`` + ``uint32 len(node_id)`` + node_id + text (send_progress_text)."""
        node = node_id.encode()
        frame = struct.pack(">II", 3, len(node)) + node + text.encode()
        for outbox in self._targets(sid):
            outbox.put(frame)

    def update_progress(self, event: NodeState) -> None:
        """O(1) per event; the snapshot (§2.3's cumulative progress_state) is built when it is sent, so a burst
        of updates costs one snapshot, not one per node (a long graph never floods a client)."""
        nodes = self.progress.setdefault(event.prompt_id, {})
        nodes[event.node_id] = {"value": event.value, "max": event.max, "state": event.state,
                                "node_id": event.node_id, "prompt_id": event.prompt_id,
                                "display_node_id": event.display_node_id, "parent_node_id": event.parent_node_id,
                                "real_node_id": event.real_node_id}

    def prompt_done(self, prompt_id: str) -> None:
        """Forget the prompt's progress after its last snapshot went out."""
        if self._outbox is not None:
            self._outbox.put_nowait(({"type": "__forget__", "prompt_id": prompt_id}, None))
        else:
            self.progress.pop(prompt_id, None)

    async def handler(self, request: web.Request, status: dict[str, Any]) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_CLIENT_MESSAGE)
        try:
            await ws.prepare(request)
        except (ConnectionError, OSError) as exc:  # the client went away mid-handshake: one line, no traceback
            log.info("WebSocket handshake from %s broke off: %s", request.remote, exc)
            return ws
        sid = request.query.get("clientId") or uuid.uuid4().hex
        old = self.sockets.pop(sid, None)
        old_outbox = self.outboxes.pop(sid, None)
        if old_outbox is not None:
            await old_outbox.stop()
        if old is not None:
            await old.close()
        self.sockets[sid] = ws
        outbox = self.outboxes[sid] = ClientOutbox(ws, sid, transport=request.transport, **self.outbox_limits)
        try:
            outbox.put(dumps({"type": "status", "data": {"status": status, "sid": sid}}))
            if sid in self.last_node and self.last_node[sid] is not None:
                outbox.put(dumps({"type": "executing", "data": {"node": self.last_node[sid]}}))
            first = True
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and first:
                    self._feature_flags(sid, msg.data, ws)
                first = False
        finally:
            if self.sockets.get(sid) is ws:
                del self.sockets[sid]
            if self.outboxes.get(sid) is outbox:
                del self.outboxes[sid]
            await outbox.stop()
        return ws

    def _feature_flags(self, sid: str, text: str, ws: web.WebSocketResponse) -> None:
        import json

        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "feature_flags":
            self.flags[sid] = message.get("data") or {}
            outbox = self.outboxes.get(sid)
            if outbox is not None:
                outbox.put(dumps({"type": "feature_flags", "data": SERVER_FEATURES}))


def coalescing_key(message: dict[str, Any]) -> Any:
    """Messages a newer one makes obsolete: a prompt's progress_state snapshot, a node's progress."""
    kind = message.get("type")
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    if kind == "progress_state":
        return ("progress_state", data.get("prompt_id"))
    if kind == "progress":
        return ("progress", data.get("prompt_id"), data.get("node"))
    return None


def encode_preview(preview: Any, default_max: int = 512) -> tuple[str, int, bytes] | None:
    """A preview (``(format, PIL.Image, max_size)`` as ComfyUI's hook passes it, or a PIL image) as
    (mime, §2.4 image type, bytes): JPEG quality 95 or PNG compress level 1, scaled to fit max_size."""
    from PIL import Image, ImageOps

    fmt, image, max_size = ("JPEG", preview, default_max) if isinstance(preview, Image.Image) else (
        preview if isinstance(preview, tuple) and len(preview) == 3 else (None, None, None))
    if not isinstance(image, Image.Image):
        return None
    if max_size:
        image = ImageOps.contain(image, (max_size, max_size))
    return encode_image(fmt, image)


class ServerSink:
    """The executor's EventSink in a server: hands each event to the server's loop (thread-safe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: WebSockets) -> None:
        self.loop = loop
        self.sockets = sockets

    def emit(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self.sockets.route, event)
