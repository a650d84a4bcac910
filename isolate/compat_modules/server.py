"""ComfyUI's ``server`` module as an isolated node pack sees it: ``PromptServer.instance`` is a stand-in for the
host's web server.

* ``send_sync`` / ``send`` / ``send_json`` / ``send_progress_text`` become notifications to the host
  (``send_sync`` with ``{"event", "data", "sid"}``, ``send_progress_text`` with ``{"text", "node_id", "sid"}``),
  which the host turns into WebSocket messages; outside a child they are dropped.
* ``routes`` (and ``app.add_routes`` / ``app.router.add_*``) record each route's method, path and handler in
  the child's services: the handlers stay in the child, the child reports the table to the host.
* ``add_on_prompt_handler`` records the handler likewise.
* ``client_id``, ``last_node_id`` and ``last_prompt_id`` follow the running node (settable, as in ComfyUI).
* The rest of ComfyUI's server (``prompt_queue``, ``loop``, the real aiohttp app) is not available here and says
  so when touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Any

from isolate.child_services import services
from isolate.context import current_node

log = logging.getLogger(__name__)


class BinaryEventTypes(IntEnum):
    """Binary WebSocket frame types (COMPAT_COMFYUI.md §2.4)."""

    PREVIEW_IMAGE = 1
    UNENCODED_PREVIEW_IMAGE = 2
    TEXT = 3
    PREVIEW_IMAGE_WITH_METADATA = 4


class RouteDef:
    """One recorded route (aiohttp's ``RouteDef`` fields)."""

    def __init__(self, method: str, path: str, handler: Any, kwargs: dict[str, Any]) -> None:
        self.method, self.path, self.handler, self.kwargs = method, path, handler, kwargs

    def __repr__(self) -> str:
        return f"<RouteDef {self.method} {self.path} -> {self.handler!r}>"


class StaticDef:
    def __init__(self, prefix: str, path: Any, kwargs: dict[str, Any]) -> None:
        self.prefix, self.path, self.kwargs = prefix, path, kwargs

    def __repr__(self) -> str:
        return f"<StaticDef {self.prefix} -> {self.path}>"


class RouteRecorder:
    """``PromptServer.instance.routes``: aiohttp ``RouteTableDef``'s decorators, recording into the services."""

    def __init__(self) -> None:
        self._defs: list[RouteDef | StaticDef] = []

    def __iter__(self) -> Iterator[RouteDef | StaticDef]:
        return iter(list(self._defs))

    def __len__(self) -> int:
        return len(self._defs)

    def __getitem__(self, index: int) -> RouteDef | StaticDef:
        return self._defs[index]

    def __contains__(self, item: object) -> bool:
        return item in self._defs

    def route(self, method: str, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            self._defs.append(RouteDef(method.upper(), path, handler, kwargs))
            services().record_route(method, path, handler)
            return handler

        return register

    def head(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("HEAD", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("DELETE", path, **kwargs)

    def view(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.route("*", path, **kwargs)

    def static(self, prefix: str, path: Any, **kwargs: Any) -> None:
        self._defs.append(StaticDef(prefix, path, kwargs))
        services().record_static(prefix, path)


def _record_def(item: Any) -> None:
    """Record an aiohttp ``RouteDef``/``StaticDef`` (or ours) given to ``app.add_routes``."""
    if hasattr(item, "prefix"):
        services().record_static(item.prefix, item.path)
    elif hasattr(item, "method") and hasattr(item, "handler"):
        services().record_route(item.method, item.path, item.handler)
    else:
        raise TypeError(f"not a route definition: {item!r}")


class _Router:
    """``app.router``: the ``add_*`` registration methods, recording. ``frozen`` is False, as aiohttp's router
    is while ComfyUI imports its packs (before the app starts): packs test it before adding routes."""

    frozen = False

    def add_route(self, method: str, path: str, handler: Any, **kwargs: Any) -> None:
        services().record_route(method, path, handler)

    def add_get(self, path: str, handler: Any, **kwargs: Any) -> None:
        self.add_route("GET", path, handler)

    def add_post(self, path: str, handler: Any, **kwargs: Any) -> None:
        self.add_route("POST", path, handler)

    def add_put(self, path: str, handler: Any, **kwargs: Any) -> None:
        self.add_route("PUT", path, handler)

    def add_patch(self, path: str, handler: Any, **kwargs: Any) -> None:
        self.add_route("PATCH", path, handler)

    def add_delete(self, path: str, handler: Any, **kwargs: Any) -> None:
        self.add_route("DELETE", path, handler)

    def add_static(self, prefix: str, path: Any, **kwargs: Any) -> None:
        services().record_static(prefix, path)


class _App(dict):
    """``PromptServer.instance.app``: what packs touch on the aiohttp app (routes, middlewares, state keys).
    Middlewares and startup hooks are kept but never run: requests are served by the host."""

    def __init__(self) -> None:
        super().__init__()
        self.router = _Router()
        self.middlewares: list[Any] = []
        self.on_startup: list[Any] = []
        self.on_shutdown: list[Any] = []
        self.on_cleanup: list[Any] = []

    def add_routes(self, routes: Any) -> list[Any]:
        items = list(routes)
        for item in items:
            _record_def(item)
        return items


class _InstanceMeta(type):
    @property
    def instance(cls) -> PromptServer:
        svc = services()
        if svc.prompt_server is None:
            svc.prompt_server = cls()
        return svc.prompt_server

    @instance.setter
    def instance(cls, value: PromptServer) -> None:
        services().prompt_server = value


class PromptServer(metaclass=_InstanceMeta):
    """The child's stand-in for ComfyUI's server; use ``PromptServer.instance``."""

    def __init__(self, loop: Any = None) -> None:
        self.routes = RouteRecorder()
        self.app = _App()
        self.supports = ["custom_nodes_from_web"]
        self._client_id: str | None = None
        self._last_node_id: str | None = None
        self._last_prompt_id: str | None = None

    # -- what is running -------------------------------------------------------------------------------
    @property
    def client_id(self) -> str | None:
        return self._client_id if self._client_id is not None else services().client_id

    @client_id.setter
    def client_id(self, value: str | None) -> None:
        self._client_id = value

    @property
    def last_node_id(self) -> str | None:
        ctx = current_node()
        return ctx.node_id if ctx is not None else self._last_node_id

    @last_node_id.setter
    def last_node_id(self, value: str | None) -> None:
        self._last_node_id = value

    @property
    def last_prompt_id(self) -> str | None:
        ctx = current_node()
        return ctx.prompt_id if ctx is not None else self._last_prompt_id

    @last_prompt_id.setter
    def last_prompt_id(self, value: str | None) -> None:
        self._last_prompt_id = value

    # -- messages to the UI --------------------------------------------------------------------------------
    def send_sync(self, event: str | int, data: Any, sid: str | None = None) -> None:
        """Send ``{"type": event, "data": data}`` to the client ``sid`` (None: every client)."""
        services().notify("send_sync", {"event": event, "data": data, "sid": sid})

    async def send(self, event: str | int, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)

    async def send_json(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)

    def send_progress_text(self, text: str | bytes, node_id: str, sid: str | None = None) -> None:
        """Text shown on the node ``node_id`` in the UI."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        services().notify("send_progress_text", {"text": text, "node_id": node_id,
                                                 "sid": sid if sid is not None else self.client_id})

    # -- registrations -------------------------------------------------------------------------------------
    def add_on_prompt_handler(self, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Record a handler that rewrites each submitted prompt (the child keeps it; the host decides)."""
        services().prompt_handlers.append(handler)

    def trigger_on_prompt(self, json_data: dict[str, Any]) -> dict[str, Any]:
        """Run the recorded prompt handlers over ``json_data`` as ComfyUI does (a failing one is logged)."""
        for handler in list(services().prompt_handlers):
            try:
                json_data = handler(json_data)
            except Exception:
                log.exception("prompt handler %r failed", handler)
        return json_data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"PromptServer.instance.{name} is not available inside an isolated node pack "
                             "(the web server runs in the host)")


def __getattr__(name: str) -> Any:
    if name == "web":  # ``from server import web``: aiohttp's, when installed
        from aiohttp import web

        return web
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
