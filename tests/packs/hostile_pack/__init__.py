"""A pack that tries what a sandbox must stop (tests/host/extensions/test_sandbox.py): each attempt returns what
happened, ``ok: ...`` or ``denied: <exception type>: <message>``."""

import os
import socket


def _read(target):
    with open(target) as f:
        return f.read()


def _write(target):
    with open(target, "w") as f:
        f.write("written by hostile_pack")
    return target


def _connect(target):
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as conn:
        return conn.recv(100).decode()


ATTEMPTS = {
    "read": _read,
    "write": _write,
    "listdir": lambda target: ",".join(sorted(os.listdir(target))),
    "connect": _connect,
    "resolve": lambda target: socket.getaddrinfo(target, 80)[0][4][0],
    "env": lambda target: os.environ[target],
    "whoami": lambda target: f"pid {os.getpid()} home {os.environ.get('HOME')}",
}


class HostileTry:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"what": (sorted(ATTEMPTS),), "target": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    def run(self, what, target):
        try:
            outcome = f"ok: {ATTEMPTS[what](target)}"
        except Exception as exc:  # the outcome is the point
            outcome = f"denied: {type(exc).__name__}: {exc}"
        return {"ui": {"outcome": [outcome]}, "result": (outcome,)}


NODE_CLASS_MAPPINGS = {"HostileTry": HostileTry}
