"""Request limits and the last line of defence (issue 15 items 6 and 8).

``body_limit``: a request whose Content-Length is over the limit is refused (413) before any of its body is
read; without a Content-Length, aiohttp's reader stops at the same limit while streaming.
``errors_as_4xx``: an OSError, RecursionError or UnicodeError a handler did not expect (a name too long, a
read-only folder, a path that is a file, a nesting too deep, a lone surrogate) answers a 4xx with the reason
(never the server's paths), not a 500.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from host.server.store import StoreFailed

log = logging.getLogger("nodehost.server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_OF_ERRNO = {errno.ENOENT: 404, errno.EACCES: 403, errno.EPERM: 403, errno.EROFS: 403}


def body_limit(max_bytes: int) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_bytes:
            response = web.json_response(
                {"error": f"the body is {length} bytes; the limit is {max_bytes} (--max-upload-size)"}, status=413)
            response.force_close()  # the unread body is not drained: the connection ends with this answer
            return response
        return await handler(request)

    return check


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"type": "invalid_request", "message": message, "details": message,
                                        "extra_info": {}}, "node_errors": {}}, status=status)


@web.middleware
async def errors_as_4xx(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StoreFailed as exc:  # the database broke while running: say so, do not answer a bare 500
        return error_response(503, str(exc))
    except OSError as exc:
        status = _STATUS_OF_ERRNO.get(exc.errno or 0, 400)
        reason = exc.strerror or type(exc).__name__
        log.warning("%s %s: %s", request.method, request.path, reason)
        return error_response(status, f"cannot serve this request: {reason}")
    except RecursionError:
        return error_response(400, "the request is nested too deeply")
    except UnicodeError as exc:
        return error_response(400, f"the request holds text that is not valid Unicode: {exc.reason}")


def middlewares(max_bytes: int) -> list[Any]:
    return [body_limit(max_bytes), errors_as_4xx]
