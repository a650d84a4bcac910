"""Request guards, in ComfyUI's order: a bearer token (``--auth-token``, nodehost's own), then either CORS
(``--enable-cors-header [ORIGIN]``) or the loopback origin check (a page from another origin cannot drive a
server on localhost: 403)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from host.server.origins import is_loopback_name, listens_on_loopback_only, origin_host, split_host

WS_PATHS = frozenset({"/ws", "/api/ws"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str | None) -> bool:
    found = split_host(host)
    return found is not None and is_loopback_name(found[0])


def origin_check(loopback_only: bool = True) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """On a server listening on loopback only, a Host that is not a loopback name is refused (DNS
    rebinding), and an Origin must be a loopback name with the Host's port (``*.localhost``, ``127.1``,
    ``localhost.`` all normalised first). Elsewhere, a loopback Host still needs an Origin equal to it."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = split_host(request.headers.get("Host"))
        if loopback_only and (host is None or not is_loopback_name(host[0])):
            return web.Response(status=403, text="this server answers only to loopback host names")
        origin = request.headers.get("Origin")
        if origin and host is not None and is_loopback_name(host[0]):
            given = origin_host(origin)
            port = host[1] if host[1] is not None else 80
            if given is None or not is_loopback_name(given[0]) or given[1] != port:
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
    """Every route needs ``Authorization: Bearer <token>``; only the WebSocket may pass ``?token=`` (browsers
    cannot set headers on a WebSocket; elsewhere it would land in logs). Compared in constant time."""
    expected = token.encode()

    @web.middleware
    async def require(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return await handler(request)
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer "):
            value = given[7:]
        elif request.path in WS_PATHS:  # only the WebSocket, which browsers cannot give a header
            value = request.query.get("token", "")
        else:
            value = ""
        if not hmac.compare_digest(value.encode(), expected):
            return web.json_response({"error": "authentication required"}, status=401)
        return await handler(request)

    return require


def guards(auth_token: str | None, enable_cors_header: str | None,
           listen: str = "127.0.0.1") -> list[Callable[..., Any]]:
    if auth_token is not None and not auth_token.strip():
        raise ValueError("an empty auth token would let anyone in: give a token or none")
    chain = []
    if auth_token:
        chain.append(bearer_token(auth_token))
    chain.append(cors(enable_cors_header) if enable_cors_header else origin_check(listens_on_loopback_only(listen)))
    return chain
