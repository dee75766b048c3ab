"""aiohttp's connection protocol with error answers that never echo input.

When aiohttp's HTTP parser rejects a request — an obs-folded header line
(RFC 9112 §5.2), bad framing, a malformed request line — its
``RequestHandler.handle_error`` answers 400 with a ``text/plain`` body made of
the parser's message, which quotes the offending raw line, and logs the same
message on ``aiohttp.server``.  When that line is ``Authorization: Bearer
...`` the token is echoed to the client and written to the logs.

:class:`SafeRequestHandler` overrides ``handle_error`` (the hook aiohttp calls
for every answer it makes itself: parse errors, handler timeouts and
unhandled exceptions) so the answer is our fixed JSON body
(:func:`~authgate.proxy.edge.error_answer`, the same as the lean engine's)
and the log line carries only a reason and the exception *type*.  Such a
request never passed our middleware, so it is reported to the request
observer here.  :class:`ProxyAppRunner` is the
``web.AppRunner`` that serves connections with it; everything else (startup
and cleanup signals, ``handler_args``, shutdown) is aiohttp's own.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadHttpMethod,
    HttpProcessingError,
    InvalidURLError,
)
from aiohttp.web_protocol import RequestHandler

from authgate.core.errors import (
    AuthError,
    GatewayError,
    GatewayTimeout,
    HeadersTooLarge,
    MalformedRequest,
    RequestTooLarge,
)
from authgate.core.gate import bad_request_target, duplicate_host, missing_host

from ..edge import error_answer
from ..records import Outcome, RequestObserver, RequestRecord
from .responses import render
from .state import OBSERVER, OUTCOME, REASON, RECORDED

__all__ = ["MALFORMED_REASON", "ProxyAppRunner", "SafeRequestHandler", "SafeServer"]

log = logging.getLogger("authgate.proxy.aiohttp.safe_handler")

MALFORMED_REASON = MalformedRequest.default_reason


def _answer(status: int, exc: BaseException | None = None) -> GatewayError | AuthError:
    """Our typed error for a status aiohttp answers itself (never its text).
    The parser's Host refusals get the core's errors, so the answer is the
    lean engine's (RFC 9112 §3.2)."""
    if isinstance(exc, InvalidURLError):  # a target that is not origin-form
        return bad_request_target()
    if isinstance(exc, BadHttpMessage) and "'Host'" in str(exc.message):
        return missing_host() if "Missing" in str(exc.message) else duplicate_host()
    if status == 400:
        return MalformedRequest()
    if status == 413:
        return RequestTooLarge()
    if status == 431:
        return HeadersTooLarge("the request headers are too large")
    if status == 504:
        return GatewayTimeout("the request timed out", reason="handler_timeout")
    if 400 <= status < 500:
        return MalformedRequest(HTTPStatus(status).phrase.lower(), status=status)
    return GatewayError(
        "the proxy failed to handle the request", reason="internal_error", status=500
    )


class SafeRequestHandler(RequestHandler):
    """``RequestHandler`` whose own error answers are fixed JSON documents."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,  # aiohttp's text (quotes the raw input): never used
    ) -> web.StreamResponse:
        error = _answer(status, exc)
        reason = error.reason
        extra = {
            "reason": reason,
            "status": error.status,
            "exc_type": type(exc).__name__ if exc is not None else None,
            "peer": request.remote,
        }
        if isinstance(exc, HttpProcessingError):
            # Client garbage (scanners, TLS on a plain port) is routine: no error level.
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.INFO
            log.log(level, "malformed request rejected", extra=extra)
        else:
            log.error("request failed in the server", extra=extra)
        if request.writer.output_size > 0:
            # Part of a response went out already: the connection is unusable.
            raise ConnectionError("response already started; cannot send an error answer")
        if isinstance(request, web.Request):
            request.setdefault(OUTCOME, Outcome.REJECTED)
            request.setdefault(REASON, reason)
            if not request.get(RECORDED, False):
                # Our middleware never ran for this request: report it here.
                observer = _observer(request) or self._server_observer()
                if observer is not None:
                    observer(
                        RequestRecord.refused(
                            error.status, reason, request.remote or "", request.method
                        )
                    )
        response = render(error_answer(error, close=True), bare=True)
        response.force_close()
        return response

    def _server_observer(self) -> RequestObserver | None:
        """The observer of the application this connection serves: a request the
        parser rejected was never routed, so ``request.app`` is not available."""
        manager = getattr(self, "_manager", None)
        app = getattr(manager, "app", None)
        return app.get(OBSERVER) if isinstance(app, web.Application) else None


def _observer(request: web.Request) -> RequestObserver | None:
    try:
        return request.app.get(OBSERVER)
    except (AttributeError, AssertionError, RuntimeError):  # no route was matched yet
        return None


class SafeServer(web.Server):
    """``web.Server`` building :class:`SafeRequestHandler` connections."""

    #: The application served, so a connection can report requests that never
    #: reached it (set by :class:`ProxyAppRunner`).
    app: web.Application | None = None

    def __call__(self) -> RequestHandler:
        return SafeRequestHandler(self, loop=self._loop, **self._kwargs)


class ProxyAppRunner(web.AppRunner):
    """``web.AppRunner`` that serves its application through :class:`SafeServer`."""

    async def _make_server(self) -> web.Server:
        # aiohttp runs the startup signals and freezes the app; we keep its
        # handler, request factory and handler arguments, only the protocol changes.
        plain = await super()._make_server()
        server = SafeServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **plain._kwargs,
        )
        server.app = self.app
        return server
