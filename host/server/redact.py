"""Keeping the auth token out of what the server shows (issue 15 item 11): ``token=`` query values in log
lines (the access log lands in /internal/logs) and ``--auth-token`` in the argv /system_stats reports."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

MASK = "<redacted>"
_QUERY_TOKEN = re.compile(r"([?&]token=)[^&\s\"']*")
LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "nodehost", "nodehost.server")


def redact_text(text: str, secret: str | None = None) -> str:
    text = _QUERY_TOKEN.sub(r"\1" + MASK, text)
    if secret:
        text = text.replace(secret, MASK)
    return text


def redact_argv(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
        elif arg == "--auth-token":
            out.append(arg)
            hide_next = True
        elif arg.startswith("--auth-token="):
            out.append("--auth-token=" + MASK)
        else:
            out.append(arg)
    return out


class RedactFilter(logging.Filter):
    """Rewrites a record's message with the token masked (the record is shared by every handler after)."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, self.secret)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def lifecycle(secret: str | None):  # noqa: ANN201 - an aiohttp cleanup context
    async def install(app: web.Application) -> AsyncIterator[None]:
        flt = RedactFilter(secret)
        loggers = [logging.getLogger(name) for name in LOGGERS]
        for logger in loggers:
            logger.addFilter(flt)
        yield
        for logger in loggers:
            logger.removeFilter(flt)

    return install
