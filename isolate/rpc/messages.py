"""The JSON-RPC 2.0 wire format, defined once (STYLE 9).

Framing: newline-delimited JSON. Every message is one msgspec-encoded JSON object followed by ``\\n``; JSON
escapes every control character inside strings, so a raw newline byte can only be a frame boundary, whatever the
payload (tests send strings full of newlines and non-ASCII). Tensors never travel here, only their handles.
"""

from __future__ import annotations

from typing import Any

import msgspec

# JSON-RPC 2.0 error codes (and LSP's "request cancelled")
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REMOTE_EXCEPTION = -32000
REQUEST_CANCELLED = -32800

CANCEL_METHOD = "$/cancel"


class ErrorData(msgspec.Struct, frozen=True):
    """What crosses about a remote exception: its type (``module.QualName``), message and traceback text."""

    type: str
    message: str
    traceback: str = ""


class ErrorObject(msgspec.Struct, frozen=True, omit_defaults=True):
    code: int
    message: str
    data: ErrorData | None = None


class Request(msgspec.Struct, frozen=True):
    id: int
    method: str
    params: Any = None
    jsonrpc: str = "2.0"


class Notification(msgspec.Struct, frozen=True):
    method: str
    params: Any = None
    jsonrpc: str = "2.0"


class Result(msgspec.Struct, frozen=True):
    id: int
    result: Any = None
    jsonrpc: str = "2.0"


class Error(msgspec.Struct, frozen=True):
    id: int | None
    error: ErrorObject
    jsonrpc: str = "2.0"


class CancelParams(msgspec.Struct, frozen=True):
    id: int


class Envelope(msgspec.Struct, frozen=True):
    """Any incoming message. ``params``/``result`` stay raw JSON until the handler's or caller's own type
    decodes them; which fields are set tells what the message is."""

    jsonrpc: str = "2.0"
    id: int | None = None
    method: str | None = None
    params: msgspec.Raw = msgspec.Raw(b"null")
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: ErrorObject | None = None


Message = Request | Notification | Result | Error

ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)
_ENCODER = msgspec.json.Encoder()


def encode(message: Message) -> bytes:
    """One frame: the message as JSON plus the newline that ends it."""
    return _ENCODER.encode(message) + b"\n"
