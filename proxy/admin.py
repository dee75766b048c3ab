"""The admin listener: liveness, readiness and Prometheus metrics.

It runs on its own port so probes and scrapes never compete with client
traffic for ``max_in_flight`` slots and are never exposed through the
client-facing Service.

* ``/healthz`` — the process is alive and its event loop turns.
* ``/readyz`` — the client listener is up, keys are loaded for every
  accepted issuer and the process is not draining; it flips to 503 the moment SIGTERM arrives.
* ``/metrics`` — the text exposition of the proxy's private registry.
"""

from __future__ import annotations

from aiohttp import web

from .aiohttp.state import LIFECYCLE, METRICS, RUNTIME
from .lifecycle import Lifecycle
from .metrics import CONTENT_TYPE, Metrics
from .runtime import RuntimeHolder

__all__ = ["build_admin_app"]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    lifecycle = app[LIFECYCLE]
    if lifecycle.draining:
        return web.json_response({"ready": False, "reason": "draining"}, status=503)
    if not lifecycle.serving:
        return web.json_response({"ready": False, "reason": "starting"}, status=503)
    if not app[RUNTIME].ready:
        return web.json_response({"ready": False, "reason": "keys_not_loaded"}, status=503)
    return web.json_response({"ready": True})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def build_admin_app(
    holder: RuntimeHolder, metrics_: Metrics, lifecycle: Lifecycle
) -> web.Application:
    app = web.Application()
    app[RUNTIME] = holder
    app[METRICS] = metrics_
    app[LIFECYCLE] = lifecycle
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
