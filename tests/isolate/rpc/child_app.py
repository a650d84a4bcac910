"""A child speaking JSON-RPC on stdio, for the transport tests. Takes fd 1 before importing anything else."""

from isolate.rpc.stdio import take_stdout  # noqa: I001  (must run first)

PROTO_FD = take_stdout()

import asyncio  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from isolate.rpc.peer import Peer  # noqa: E402
from isolate.rpc.transport import serve_stdio  # noqa: E402

print("the child prints at import", flush=True)  # must land on stderr
os.write(1, b"a C-level write to fd 1 at import\n")

peer = Peer("child")
STATE = {"cancelled": 0, "started": 0}


class ChildError(Exception):
    pass


def echo(params):
    return params


def noisy(params):
    print("noise while serving", flush=True)
    os.write(1, b"raw fd-1 noise while serving\n")
    return params


def fail(params):
    raise ChildError(params["msg"])


async def sleep(params):
    STATE["started"] += 1
    try:
        await asyncio.sleep(params["seconds"])
    except asyncio.CancelledError:
        STATE["cancelled"] += 1
        raise
    return "slept"


async def nest(params):
    """Call back into the host, which calls nest here again, until depth 0."""
    depth = params["depth"]
    if depth == 0:
        return ["child-bottom"]
    below = await peer.call("host_nest", {"depth": depth - 1})
    return [f"child-{depth}", *below]


async def callback(params):
    return await peer.call("host_add", {"a": params["a"], "b": 1})


def die(params):
    os._exit(params["code"])


def kill_self(params):
    os.kill(os.getpid(), signal.SIGKILL)


def notify(params):
    peer.notify("note", params)
    return True


for name, fn in [("echo", echo), ("noisy", noisy), ("fail", fail), ("sleep", sleep), ("nest", nest),
                 ("callback", callback), ("die", die), ("kill_self", kill_self), ("notify", notify),
                 ("cancelled", lambda p: STATE["cancelled"]),
                 ("started", lambda p: STATE["started"])]:
    peer.register(name, fn)

if __name__ == "__main__":
    asyncio.run(serve_stdio(peer, PROTO_FD))
    sys.exit(0)
