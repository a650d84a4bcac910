"""The child side of bench/isolation.py: a bare JSON-RPC child (stdout taken first)."""

from isolate.rpc.stdio import take_stdout  # noqa: I001  (must run first)

PROTO_FD = take_stdout()

import asyncio  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from isolate.rpc.peer import Peer  # noqa: E402
from isolate.rpc.transport import serve_stdio  # noqa: E402

if "--torch" in sys.argv:
    import torch  # noqa: F401

peer = Peer("bench-child")
peer.register("ping", lambda params: None)


async def callbacks(n: int) -> list[float]:
    """Time ``n`` child -> host calls, in milliseconds."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await peer.call("ping")
        times.append((time.perf_counter() - t0) * 1e3)
    return times


peer.register("callbacks", callbacks)

SHM = None


def shape(handle: dict) -> list[int]:
    """Open a tensor handle and answer its shape (no element is read)."""
    global SHM
    import msgspec

    from isolate.shm import ShmClient, TensorHandle

    if SHM is None:
        SHM = ShmClient()
    view = SHM.open(msgspec.convert(handle, TensorHandle))
    dims = list(view.shape)
    del view
    released = SHM.take_released()
    if released:
        peer.notify("release", released)
    return dims


peer.register("shape", shape)

if __name__ == "__main__":
    asyncio.run(serve_stdio(peer, PROTO_FD))
