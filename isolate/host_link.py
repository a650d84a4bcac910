"""Synchronous calls from pack code to the host: ``nodes.CLIPTextEncode().encode(clip, text)`` or a model
proxy's method is plain blocking Python in the pack, while the child's event loop is the one running that
pack code (node bodies run inline on it). ``HostLink.call`` therefore drives the connection itself: it sends
the request, then reads the child's stdin and feeds the peer until the answer arrives. Requests the host
sends meanwhile wait (``Peer.hold``) unless they are re-entrant callbacks (a sampling step calling an
attention patch living here), which run at once. From any other thread the call goes through the loop.

One ``HostLink`` per child, set by the child runtime (``set_link``); outside a child there is none and a host
call raises ``HostUnavailable`` (the pack's own tests, ``nodehost ext doctor``).
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
from typing import Any

from isolate.rpc.peer import Peer, PeerExited, outcome

#: host -> child requests that may run while a synchronous call to the host is waiting
REENTRANT = frozenset({"callback"})


class HostUnavailable(RuntimeError):
    """A host service was used outside an extension child connected to nodehost."""


class HostLink:
    def __init__(self, peer: Peer, read_fd: int = 0) -> None:
        self.peer = peer
        self.read_fd = read_fd
        self.loop_thread = threading.get_ident()
        #: the codec values cross with (the child's; set by the child runtime)
        self.codec: Any = None
        #: asks the host for a slab when an export finds none with room (set by the child runtime)
        self.grant: Any = None

    def call(self, method: str, params: Any = None, result_type: Any = Any) -> Any:
        loop = self.peer.loop
        if loop is None:
            raise HostUnavailable(f"{method}: not connected to the host yet")
        if threading.get_ident() != self.loop_thread:
            return asyncio.run_coroutine_threadsafe(self.peer.call(method, params, result_type=result_type),
                                                    loop).result()
        outer = self.peer.hold
        self.peer.hold = REENTRANT
        try:
            _, fut = self.peer.begin_call(method, params)
            while not fut.done():
                self._pump()
            env = fut.result()
        finally:
            self.peer.hold = outer
            if outer is None:
                loop.call_soon(self.peer.release_held)
        return outcome(method, env, result_type)

    def _pump(self) -> None:
        ready, _, _ = select.select([self.read_fd], [], [], 1.0)
        if not ready:
            return
        try:
            data = os.read(self.read_fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self.peer.lost(None)
            raise PeerExited(self.peer.name, None)
        self.peer.feed(data)

    def encode(self, value: Any) -> Any:
        """A value for the host, tensors into shared memory (asking the host for room when needed)."""
        from isolate.shm import SlabExhausted

        for _ in range(3):
            try:
                return self.codec.encode(value)
            except SlabExhausted as full:
                self.grant(full.needed)
        return self.codec.encode(value)

    def decode(self, data: Any) -> Any:
        return self.codec.decode(data)


_link: HostLink | None = None


def set_link(link: HostLink | None) -> None:
    global _link
    _link = link


def link() -> HostLink:
    if _link is None:
        raise HostUnavailable("this needs the nodehost host: run the pack through nodehost (an extension child)")
    return _link


def connected() -> bool:
    return _link is not None and _link.peer.loop is not None


def call(method: str, /, **params: Any) -> Any:
    """Call the host's ``method`` with ``params`` encoded (tensors through shm); the result decoded."""
    lk = link()
    return lk.decode(lk.call(method, lk.encode(params)))
