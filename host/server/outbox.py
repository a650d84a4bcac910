"""One bounded outbox per WebSocket client (issue 15 item 5).

The publisher only appends to outboxes, never waits on a socket, so a client that does not read cannot hold
up the others. Each outbox has its own sender task. Messages with a coalescing key (progress snapshots, node
progress, previews) replace a queued one with the same key instead of queueing behind it. A client whose
outbox stays full, or whose socket takes longer than ``deadline`` seconds to accept one message, is closed
with a reason (1008, "too slow")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Hashable
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger("nodehost.server")

CLOSE_REASON = b"client too slow: messages not read in time"


class ClientOutbox:
    def __init__(self, ws: web.WebSocketResponse, sid: str, max_items: int = 2000,
                 max_bytes: int = 64 * 1024 * 1024, deadline: float = 10.0,
                 transport: asyncio.BaseTransport | None = None) -> None:
        self.ws, self.sid = ws, sid
        self.max_items, self.max_bytes, self.deadline = max_items, max_bytes, deadline
        self.transport = transport
        self.queue: deque[list[Any]] = deque()  # [key, payload]
        self.keyed: dict[Hashable, list[Any]] = {}
        self.size = 0
        self.full_since: float | None = None
        self.closed = False
        self.dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = asyncio.ensure_future(self._run())

    def put(self, payload: str | bytes, key: Hashable | None = None) -> bool:
        """Queue a message (a str is a text frame, bytes a binary one); False when dropped or closed."""
        if self.closed:
            return False
        if key is not None and key in self.keyed:  # coalesce: the newer message takes the queued one's place
            entry = self.keyed[key]
            self.size += len(payload) - len(entry[1])
            entry[1] = payload
            return True
        if len(self.queue) >= self.max_items or self.size + len(payload) > self.max_bytes:
            now = time.monotonic()
            self.full_since = self.full_since or now
            self.dropped += 1
            if now - self.full_since > self.deadline:
                self.close_slow()
            return False
        entry = [key, payload]
        self.queue.append(entry)
        if key is not None:
            self.keyed[key] = entry
        self.size += len(payload)
        self._wake.set()
        return True

    async def _run(self) -> None:
        try:
            while not self.closed:
                if not self.queue:
                    self.full_since = None
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                key, payload = self.queue.popleft()
                if key is not None:
                    self.keyed.pop(key, None)
                self.size -= len(payload)
                if self.ws.closed:
                    break
                send = self.ws.send_str(payload) if isinstance(payload, str) else self.ws.send_bytes(payload)
                try:
                    await asyncio.wait_for(send, self.deadline)
                except TimeoutError:
                    self.close_slow()
                    break
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("dropping messages to %s: %s", self.sid, exc)
                    break
                if len(self.queue) < self.max_items:
                    self.full_since = None
        finally:
            self.closed = True
            self.queue.clear()
            self.keyed.clear()

    def close_slow(self) -> None:
        """Close a client that does not keep up; its socket may not even take a close frame, so the
        connection is aborted if the close does not go through quickly."""
        if self.closed:
            return
        self.closed = True
        log.warning("closing WebSocket client %s: it did not read its messages for %.0f s", self.sid,
                    self.deadline)
        asyncio.ensure_future(self._close())

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=CLOSE_REASON), 1.0)
        if self.transport is not None:
            self.transport.abort()  # the peer never read: do not wait for its close frame
        self._wake.set()

    async def stop(self) -> None:
        self.closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
