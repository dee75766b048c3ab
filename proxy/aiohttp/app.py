"""The client-facing aiohttp application.

One catch-all route hands every request to :func:`proxy_handler`, which asks
the core :class:`~authgate.core.gate.Gate` for a decision exactly once and
then either answers the error (RFC 6750), relays a websocket, or streams the
request upstream.  The public discovery document is served here too.

A single plain middleware, :func:`guard`, owns the cross-cutting concerns of
every request: load shedding (``limits.max_in_flight`` → 503), the total
header-size limit (``limits.max_header_bytes`` → 431, RFC 6585 §5), the
in-flight gauge and the request metrics.  Shared resources (the upstream
connection pool) live in ``cleanup_ctx`` so they close with the app.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from weakref import WeakSet

from aiohttp import web
from authgate.core.contracts import DISCOVERY_PATH
from authgate.core.errors import AuthError, InvalidRequest
from authgate.core.session.gate import BrowserAnswer

from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..runtime import RuntimeHolder
from .forwarding import create_upstream_session, forward, forwarded_headers, upstream_url
from .responses import auth_error_response, error_response
from .state import (
    AUTH_SECONDS,
    LIFECYCLE,
    METRICS,
    OUTCOME,
    PRINCIPAL,
    REASON,
    RESPONSE_HEADERS,
    RUNTIME,
    UPSTREAM_SECONDS,
    UPSTREAM_SESSION,
    WEBSOCKETS,
)
from .websocket import close_all, is_websocket_upgrade, proxy_websocket

__all__ = ["build_app", "guard", "proxy_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _header_bytes(request: web.BaseRequest) -> int:
    # name + ": " + value + CRLF, as on the wire.
    return sum(len(k) + len(v) + 4 for k, v in request.raw_headers)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Shedding, header limit, in-flight accounting and request metrics."""
    app = request.app
    lifecycle, metrics = app[LIFECYCLE], app[METRICS]
    limits = app[RUNTIME].current.config.limits
    if lifecycle.in_flight >= limits.max_in_flight:
        request[OUTCOME] = "shed"
        metrics.observe_request(outcome="shed", status=503)
        return error_response(503, "unavailable", "overloaded",
                              "too many requests in flight", retry_after=1)  # fmt: skip
    if _header_bytes(request) > limits.max_header_bytes:
        request[OUTCOME] = "rejected"
        metrics.observe_request(outcome="rejected", status=431)
        return error_response(431, "invalid_request", "headers_too_large",
                              "request header fields too large")  # fmt: skip
    lifecycle.in_flight += 1
    metrics.in_flight.inc()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        request[OUTCOME] = "client_closed"
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        lifecycle.in_flight -= 1
        metrics.in_flight.dec()
        outcome = request.get(OUTCOME, "error")
        metrics.observe_request(
            outcome=outcome if status < 500 or outcome == "client_closed" else "upstream_error",
            status=status,
            reason=request.get(REASON),
            auth_seconds=request.get(AUTH_SECONDS),
            upstream_seconds=request.get(UPSTREAM_SECONDS),
        )


async def discovery_handler(request: web.Request) -> web.Response:
    """``GET /apis/auth/discovery`` — public; what CLIs read to log in."""
    request[OUTCOME] = "public"
    doc = request.app[RUNTIME].current.discovery()
    return web.Response(
        body=json.dumps(doc, separators=(",", ":")).encode(),
        content_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    """Decide once, then answer, relay a websocket, or forward."""
    app = request.app
    runtime = app[RUNTIME].current
    config = runtime.config
    raw_target = request.raw_path
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
    started = time.perf_counter()
    try:
        if not raw_target.startswith("/"):
            raise InvalidRequest("only origin-form request targets are accepted",
                                 reason="bad_request_target")  # fmt: skip
        decision = await runtime.gate.decide(request.method, raw_target, headers)
    except BrowserAnswer as answer:  # browser sign-in: a complete answer (redirect, page, JSON)
        request[AUTH_SECONDS] = time.perf_counter() - started
        request[OUTCOME] = "denied" if answer.status >= 400 else "public"
        request[REASON] = answer.reason
        return browser_response(answer)
    except AuthError as exc:
        request[AUTH_SECONDS] = time.perf_counter() - started
        request[OUTCOME] = "denied"
        request[REASON] = exc.reason
        return auth_error_response(exc)
    request[AUTH_SECONDS] = time.perf_counter() - started
    request[OUTCOME] = "public" if decision.public else "allowed"
    if decision.principal is not None:
        request[PRINCIPAL] = decision.principal
    if decision.response_headers:
        request[RESPONSE_HEADERS] = decision.response_headers
    upstream_headers = forwarded_headers(
        decision.upstream_headers,
        request,
        set_forwarded=config.headers.set_forwarded,
    )
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        # Only now, with the request allowed, invite the body (RFC 9110 §10.1.1).
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    session = app[UPSTREAM_SESSION]
    url = upstream_url(config, raw_target)
    if is_websocket_upgrade(request):
        return await proxy_websocket(request, session, url, upstream_headers, app[WEBSOCKETS])
    return await forward(request, session, url, upstream_headers)


async def _add_response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The gate's extra response headers (a refreshed session cookie), on
    whatever the upstream answered, streamed or not."""
    for name, value in request.get(RESPONSE_HEADERS, ()):
        response.headers.add(name, value)


def browser_response(answer: BrowserAnswer) -> web.Response:
    """A browser sign-in answer exactly as the core composed it."""
    response = web.Response(status=answer.answer.status, body=answer.answer.body)
    for name, value in answer.answer.headers:
        response.headers.add(name, value)
    return response


async def _defer_expect(request: web.Request) -> None:
    """aiohttp would send ``100 Continue`` before the handler runs; we send it
    only after the Gate allowed the request, so a refused client never
    uploads its body."""
    return None


async def _upstream_pool(app: web.Application) -> AsyncIterator[None]:
    session = create_upstream_session(app[RUNTIME].current.config.upstream)
    app[UPSTREAM_SESSION] = session
    yield
    await session.close()


async def _close_websockets(app: web.Application) -> None:
    await close_all(app[WEBSOCKETS])


def build_app(holder: RuntimeHolder, metrics: Metrics, lifecycle: Lifecycle) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=0)
    app[RUNTIME] = holder
    app[METRICS] = metrics
    app[LIFECYCLE] = lifecycle
    app[WEBSOCKETS] = WeakSet()
    app.cleanup_ctx.append(_upstream_pool)
    app.on_shutdown.append(_close_websockets)
    app.on_response_prepare.append(_add_response_headers)
    app.router.add_route("GET", DISCOVERY_PATH, discovery_handler)
    app.router.add_route("*", "/{tail:.*}", proxy_handler, expect_handler=_defer_expect)
    return app
