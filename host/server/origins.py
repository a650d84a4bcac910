"""Host and Origin names normalised before comparing (issue 15 item 7): case, a trailing dot, ``*.localhost``
(browsers resolve it to loopback), and the numeric IPv4 forms ``inet_aton`` accepts (``127.1``,
``2130706433``, ``0x7f.1``) all count as what they are."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """``host[:port]`` (a Host header or an Origin's netloc) as (normalised name, port); None if unparsable."""
    if not value:
        return None
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name:
        return None
    return normalise(name), port


def normalise(name: str) -> str:
    name = name.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if name.replace(".", "").replace("x", "").isalnum() and any(c.isdigit() for c in name[:1]):
        try:  # the forms browsers and inet_aton read as IPv4: 127.1, 2130706433, 0x7f000001
            return socket.inet_ntoa(socket.inet_aton(name))
        except OSError:
            pass
    return name


def is_loopback_name(name: str) -> bool:
    """A normalised name that reaches this machine's loopback."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_host(origin: str) -> tuple[str, int | None] | None:
    """An Origin header's (name, port), the scheme's default port when none is given; None for ``null``."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return normalise(parts.hostname), port


def listens_on_loopback_only(listen: str) -> bool:
    hosts = [h.strip() for h in listen.split(",") if h.strip()]
    return bool(hosts) and all(is_loopback_name(normalise(h)) for h in hosts)
