"""GET /metrics: Prometheus' text format (host/server/metrics.py), behind ``--auth-token`` like every route."""

from __future__ import annotations

from aiohttp import web

from host.server.state import STATE


async def get_metrics(request: web.Request) -> web.Response:
    # the 0.0.4 text format every Prometheus reads (the body uses only classic metric names)
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    state = request.app[STATE]
    assert state.metrics is not None
    return web.Response(body=await state.metrics.render(state), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


def routes() -> list[web.RouteDef]:
    return [web.get("/metrics", get_metrics)]
