"""The client-facing aiohttp application.

One catch-all route hands every request to :func:`proxy_handler`: a target
the shared ``/apis/auth/`` router knows (:mod:`authgate.proxy.routes`) is
answered by the proxy itself; anything else asks the core
:class:`~authgate.core.gate.Gate` for a decision exactly once and then either
answers the error (RFC 6750), relays a websocket, or streams the request
upstream.

A single plain middleware, :func:`guard`, owns the cross-cutting concerns of
every request: load shedding (``limits.max_in_flight`` → 503), the total
header-size limit (``limits.max_header_bytes`` → 431, RFC 6585 §5), the
in-flight gauge, and the one :class:`~authgate.proxy.records.RequestRecord`
per request that feeds metrics and the access log.  Shared resources (the
upstream connection pool) live in ``cleanup_ctx`` so they close with the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from weakref import WeakSet

from aiohttp import web

from authgate.core.errors import AuthError, HeadersTooLarge, Overloaded
from authgate.core.upstream import UpstreamTarget

from ..browser import refusal_answer
from ..edge import error_answer
from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..records import STATUS_CLIENT_CLOSED, Outcome, RequestObserver, RequestRecord
from ..routes import Endpoint, serve_endpoint
from ..runtime import RuntimeHolder
from .forwarding import create_upstream_session, forward, forwarded_headers, upstream_url
from .responses import edge_request, read_bounded, render, suppress_defaults
from .state import (
    AUTH_SECONDS,
    LIFECYCLE,
    METRICS,
    OBSERVER,
    OUTCOME,
    PATH,
    PRINCIPAL,
    REASON,
    RECORDED,
    RUNTIME,
    UPSTREAM_SECONDS,
    UPSTREAM_SESSION,
    UPSTREAM_TARGET,
    WEBSOCKETS,
)
from .websocket import close_all, is_websocket_upgrade, proxy_websocket

__all__ = ["build_app", "guard", "proxy_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SERVED_VERSIONS = ((1, 0), (1, 1))


def _header_bytes(request: web.BaseRequest) -> int:
    # name + ": " + value + CRLF, as on the wire.
    return sum(len(k) + len(v) + 4 for k, v in request.raw_headers)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Shedding, header limit, in-flight accounting and the request record."""
    app = request.app
    lifecycle = app[LIFECYCLE]
    limits = app[RUNTIME].current.config.limits
    loop = asyncio.get_running_loop()
    started = loop.time()
    status = 500
    if request.match_info.http_exception is not None:
        # No route matched (``OPTIONS *``, a target that is not a path): the
        # Gate answers it, as on the lean engine, never aiohttp's text 404.
        handler = proxy_handler
    try:
        if lifecycle.in_flight >= limits.max_in_flight:
            request[OUTCOME] = Outcome.SHED
            shed = Overloaded()
            request[REASON] = shed.reason
            status = shed.status
            return render(error_answer(shed))
        if _header_bytes(request) > limits.max_header_bytes:
            request[OUTCOME] = Outcome.REJECTED
            status = 431
            request[REASON] = HeadersTooLarge.default_reason
            return render(error_answer(HeadersTooLarge()))
        lifecycle.in_flight += 1
        app[METRICS].in_flight.inc()
        try:
            response = await handler(request)
            status = response.status
            return response
        finally:
            lifecycle.in_flight -= 1
            app[METRICS].in_flight.dec()
    except asyncio.CancelledError:
        status = STATUS_CLIENT_CLOSED
        request[OUTCOME] = Outcome.CLIENT_CLOSED
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request[RECORDED] = True
        principal = request.get(PRINCIPAL)
        app[OBSERVER](
            RequestRecord(
                method=request.method,
                path=request.get(PATH) or request.path,  # never the query (tokens)
                status=status,
                outcome=request.get(OUTCOME, Outcome.ERROR),
                reason=request.get(REASON),
                principal=principal.subject if principal is not None else None,
                auth_seconds=request.get(AUTH_SECONDS),
                upstream_seconds=request.get(UPSTREAM_SECONDS),
                duration_seconds=loop.time() - started,
                peer=request.remote or "",
            )
        )


async def _serve_endpoint(request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
    runtime = request.app[RUNTIME].current
    result = await serve_endpoint(
        endpoint,
        runtime,
        edge_request(request),
        lambda limit: read_bounded(request, limit),
        asyncio.get_running_loop().time,
    )
    request[OUTCOME], request[PATH] = result.outcome, endpoint.path
    if result.reason is not None:
        request[REASON] = result.reason
    if result.auth_seconds is not None:
        request[AUTH_SECONDS] = result.auth_seconds
    return render(result.response)


async def proxy_handler(request: web.Request) -> web.StreamResponse:
    """Serve an endpoint, or decide once, then answer, relay a websocket, or forward."""
    app = request.app
    runtime = app[RUNTIME].current
    raw_target = request.raw_path
    endpoint = runtime.router.match(raw_target)
    if endpoint is not None:
        return await _serve_endpoint(request, endpoint)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        decision = await runtime.gate.decide(
            request.method,
            raw_target,
            headers,
            require_host=request.version >= (1, 1),
            version=(request.version.major, request.version.minor),
        )
    except AuthError as exc:
        request[AUTH_SECONDS] = loop.time() - started
        request[OUTCOME] = Outcome.DENIED
        request[REASON] = exc.reason
        # A request line the Gate refused for its version leaves the connection
        # in an unknown protocol: close it, as the lean engine does.
        return render(
            refusal_answer(
                runtime,
                exc,
                request.method,
                raw_target,
                headers,
                close=request.version not in _SERVED_VERSIONS,
            )
        )
    request[AUTH_SECONDS] = loop.time() - started
    request[OUTCOME] = Outcome.PUBLIC if decision.public else Outcome.ALLOWED
    request[PATH] = decision.path
    if decision.principal is not None:
        request[PRINCIPAL] = decision.principal
    upstream_headers = forwarded_headers(
        decision.upstream_headers,
        request,
        runtime.gate.forwarding.values(request.remote or "", request.scheme, headers),
    )
    if (
        request.headers.get("Expect", "").strip().lower() == "100-continue"
        and request.version >= (1, 1)
        and request.body_exists  # nothing to invite otherwise (as on lean)
    ):
        # Only now, with the request allowed, invite the body (RFC 9110 §10.1.1).
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    session = app[UPSTREAM_SESSION]
    url = upstream_url(app[UPSTREAM_TARGET], raw_target)
    if is_websocket_upgrade(request):
        return await proxy_websocket(request, session, url, upstream_headers, app[WEBSOCKETS])
    response = await forward(request, session, url, upstream_headers, decision.response_headers)
    if "Upgrade" in request.headers:
        # An upgrade we did not tunnel: aiohttp's parser has stopped reading HTTP on
        # this connection (the bytes after the head are not requests), so close
        # it after the answer, as the lean engine does.
        response.force_close()
    return response


async def _defer_expect(request: web.Request) -> None:
    """aiohttp would send ``100 Continue`` before the handler runs; we send it
    only after the Gate allowed the request, so a refused client never
    uploads its body."""
    return None


async def _upstream_pool(app: web.Application) -> AsyncIterator[None]:
    upstream = app[RUNTIME].current.config.upstream
    # Read once at start, as the lean engine does (a change needs a restart).
    app[UPSTREAM_TARGET] = UpstreamTarget.from_config(upstream)
    session = create_upstream_session(upstream)
    app[UPSTREAM_SESSION] = session
    yield
    await session.close()


async def _close_websockets(app: web.Application) -> None:
    await close_all(app[WEBSOCKETS])


def build_app(holder: RuntimeHolder, metrics: Metrics, lifecycle: Lifecycle) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=0)
    app[RUNTIME] = holder
    app[METRICS] = metrics
    app[OBSERVER] = RequestObserver(metrics)
    app[LIFECYCLE] = lifecycle
    app[WEBSOCKETS] = WeakSet()
    app.cleanup_ctx.append(_upstream_pool)
    app.on_shutdown.append(_close_websockets)
    app.on_response_prepare.append(suppress_defaults)
    app.router.add_route("*", "/{tail:.*}", proxy_handler, expect_handler=_defer_expect)
    return app
