"""JSON-RPC 2.0 over a child's stdio: messages (messages.py), the peer (peer.py), pipes (transport.py)."""

from isolate.rpc.peer import MethodNotFound, Peer, PeerExited, RemoteError, RequestCancelled, RpcError, RpcTimeout
from isolate.rpc.transport import ChildProcess, serve_stdio, spawn_child

__all__ = ["ChildProcess", "MethodNotFound", "Peer", "PeerExited", "RemoteError", "RequestCancelled", "RpcError",
           "RpcTimeout", "serve_stdio", "spawn_child"]
