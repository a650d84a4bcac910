"""Request guards, in ComfyUI's order: a bearer token (``--auth-token``, nodehost's own), then either CORS
(``--enable-cors-header [ORIGIN]``) or the loopback origin check (a page from another origin cannot drive a
server on localhost: 403)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    name = urlsplit(f"//{host}").hostname or ""
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_check() -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        origin = request.headers.get("Origin")
        if origin and is_loopback(host) and urlsplit(origin).netloc != host:
            return web.Response(status=403, text="cross-origin request refused")
        return await handler(request)

    return check


def cors(allow_origin: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse = web.Response() if request.method == "OPTIONS" else await handler(request)
        response.headers["Access-Control-Allow-Origin"] = allow_origin
        response.headers["Access-Control-Allow-Methods"] = "POST, GET, DELETE, PUT, OPTIONS, PATCH"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
        response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    return add_headers


def bearer_token(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Every route needs ``Authorization: Bearer <token>``; the WebSocket may pass ``?token=`` (browsers cannot
    set headers on a WebSocket). Compared in constant time."""
    expected = token.encode()

    @web.middleware
    async def require(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return await handler(request)
        given = request.headers.get("Authorization", "")
        value = given[7:] if given.startswith("Bearer ") else request.query.get("token", "")
        if not hmac.compare_digest(value.encode(), expected):
            return web.json_response({"error": "authentication required"}, status=401)
        return await handler(request)

    return require


def guards(auth_token: str | None, enable_cors_header: str | None) -> list[Callable[..., Any]]:
    chain = []
    if auth_token:
        chain.append(bearer_token(auth_token))
    chain.append(cors(enable_cors_header) if enable_cors_header else origin_check())
    return chain
