"""The methods host and extension child speak over JSON-RPC, one params Struct each (values inside are encoded
by isolate.codec). Host -> child: list_nodes, validate, fingerprint, check_lazy, execute, drop.
Child -> host: progress (a notification; it carries prompt_id and node_id explicitly)."""

from __future__ import annotations

from typing import Any

import msgspec

from isolate.nodedef import NodeDef


class PackInfo(msgspec.Struct):
    """What a child found in its pack: node definitions, the web folder, what failed to load."""

    name: str
    nodes: list[NodeDef]
    web_directory: str | None = None
    failures: dict[str, str] = {}
    #: HTTP routes the pack registered on PromptServer.instance.routes: ``{"method", "path"}`` (served by the child)
    routes: list[dict[str, str]] = []
    #: host modules (``comfy.sd``, ``nodes``...) and torch-family packages the pack tried to import and did not
    #: get while it loaded, whether it caught the ImportError or not (isolate/import_watch.py)
    missing_imports: list[str] = []
    #: what the pack did at import that cannot reach the host (replaced ComfyUI functions): isolate/patch_watch.py
    warnings: list[str] = []


class ClassCall(msgspec.Struct):
    """validate / fingerprint: a class-level call with encoded kwargs."""

    class_type: str
    kwargs: Any


class WireCall(msgspec.Struct):
    """check_lazy / execute: one call of a node (isolate.calls.NodeCall with encoded inputs and hidden)."""

    prompt_id: str
    node_id: str
    class_type: str
    index: int
    inputs: Any
    hidden: Any = None


class WireResult(msgspec.Struct):
    values: Any
    ui: Any = None
    expand: Any = None


class DropParams(msgspec.Struct):
    keys: list[tuple[str, str]] | None = None


class HttpRequest(msgspec.Struct):
    """host -> child: a request for one of the pack's routes (body base64)."""

    method: str
    path: str
    route: str
    query_string: str = ""
    headers: dict[str, str] = {}
    body: str = ""


class HttpResponse(msgspec.Struct):
    status: int
    headers: dict[str, str] = {}
    body: str = ""


class GrantParams(msgspec.Struct):
    """child -> host: a slab of at least ``min_bytes`` to carve outputs from."""

    min_bytes: int


class ReleaseParams(msgspec.Struct):
    """child -> host (notification): handles or whole segments the child no longer views."""

    items: list[Any]


class ProgressParams(msgspec.Struct):
    prompt_id: str
    node_id: str
    value: float
    max: float | None = None
    legacy: bool = True
    #: a preview image sent with the update: ``[format, base64 bytes, max_size]`` (encoded in the child)
    preview: list[Any] | None = None
