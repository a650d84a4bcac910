"""A child process for the shared-memory tests: one JSON request per line on stdin, one JSON reply per line.

Requests are {"op": ..., ...}; replies are {"ok": ...} or {"error": "..."}. Views the child must keep alive
go into `held` (dropped by the "drop" op).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import msgspec
import numpy as np
import torch

from isolate.shm import ShmClient, SlabExhausted, SlabGrant, TensorHandle

client = ShmClient()
held: list[Any] = []


def describe(x: Any) -> dict[str, Any]:
    strides = list(x.stride()) if isinstance(x, torch.Tensor) else [s // x.itemsize for s in x.strides]
    dtype = str(x.dtype).removeprefix("torch.") if isinstance(x, torch.Tensor) else x.dtype.name
    return {"type": type(x).__name__, "dtype": dtype, "shape": list(x.shape), "strides": strides, "values": x.tolist()}


def make(dtype: str, shape: list[int]) -> torch.Tensor:
    n = int(np.prod(shape))
    if dtype == "bool":
        return (torch.arange(n) % 3 == 0).reshape(shape)
    return (torch.arange(n) - (0 if dtype.startswith("uint") else n // 2)).to(getattr(torch, dtype)).reshape(shape)


def handle(req: dict[str, Any]) -> TensorHandle:
    return msgspec.convert(req["handle"], TensorHandle)


def run(req: dict[str, Any]) -> Any:
    op = req["op"]
    if op == "open":
        return describe(client.open(handle(req)))
    if op == "fill":
        view = client.open(handle(req))
        view[...] = req["value"]
        return None
    if op == "hold":
        held.append(client.open(handle(req)))
        return None
    if op == "drop":
        held.clear()
        return [msgspec.to_builtins(x) for x in client.take_released()]
    if op == "grant":
        client.add_grant(msgspec.convert(req["grant"], SlabGrant))
        return None
    if op == "export":
        t = make(req["dtype"], req["shape"])
        if req.get("transpose"):
            t = t.transpose(0, -1)
        return {"handle": msgspec.to_builtins(client.export(t)), "values": t.tolist()}
    if op == "empty":
        t = client.empty(req["shape"], req["dtype"])
        t.fill_(req["value"])
        held.append(t)
        cursor = client.stats()["grants"]
        h = client.export(t[:, 1:] if req.get("slice") else t)
        return {"handle": msgspec.to_builtins(h), "carved_after": client.stats()["grants"] != cursor}
    if op == "exhaust":
        try:
            client.export(torch.zeros(req["nbytes"], dtype=torch.uint8))
        except SlabExhausted as e:
            return {"needed": e.needed}
        return {"needed": None}
    if op == "exit":
        os._exit(req["code"])
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    for line in sys.stdin.buffer:
        req = msgspec.json.decode(line)
        try:
            reply = {"ok": run(req)}
        except Exception:
            reply = {"error": traceback.format_exc()}
        sys.stdout.buffer.write(msgspec.json.encode(reply) + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
