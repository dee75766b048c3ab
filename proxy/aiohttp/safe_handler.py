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
(:func:`~authgate.proxy.aiohttp.responses.error_response`) and the log line carries
only a reason and the exception *type*.  :class:`ProxyAppRunner` is the
``web.AppRunner`` that serves connections with it; everything else (startup
and cleanup signals, ``handler_args``, shutdown) is aiohttp's own.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from .responses import error_response
from .state import OUTCOME, REASON

__all__ = ["MALFORMED_REASON", "ProxyAppRunner", "SafeRequestHandler", "SafeServer"]

log = logging.getLogger("authgate.proxy.aiohttp.safe_handler")

MALFORMED_REASON = "malformed_request"

# status -> (error, reason, description); every string is ours, none from the request.
_ANSWERS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request", MALFORMED_REASON, "the request is not valid HTTP/1.1"),
    413: ("invalid_request", "request_too_large", "the request is too large"),
    431: ("invalid_request", "headers_too_large", "the request headers are too large"),
    504: ("gateway_timeout", "handler_timeout", "the request timed out"),
}
_INTERNAL = ("internal_error", "internal_error", "the proxy failed to handle the request")


def _answer(status: int) -> tuple[str, str, str]:
    if status in _ANSWERS:
        return _ANSWERS[status]
    if 400 <= status < 500:
        return ("invalid_request", MALFORMED_REASON, HTTPStatus(status).phrase.lower())
    return _INTERNAL


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
        error, reason, description = _answer(status)
        exc_type = type(exc).__name__ if exc is not None else None
        if isinstance(exc, HttpProcessingError):
            # Client garbage (scanners, TLS on a plain port) is routine: no error level.
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.INFO
            log.log(
                level,
                "malformed request rejected",
                extra={
                    "reason": reason,
                    "status": status,
                    "exc_type": exc_type,
                    "peer": request.remote,
                },
            )
        else:
            log.error(
                "request failed in the server",
                extra={
                    "reason": reason,
                    "status": status,
                    "exc_type": exc_type,
                    "peer": request.remote,
                },
            )
        if request.writer.output_size > 0:
            # Part of a response went out already: the connection is unusable.
            raise ConnectionError("response already started; cannot send an error answer")
        if isinstance(request, web.Request):
            # Our middlewares never ran for this request; fill the access-log slots.
            request.setdefault(OUTCOME, "rejected")
            request.setdefault(REASON, reason)
        response = error_response(status, error, reason, description)
        response.force_close()
        return response


class SafeServer(web.Server):
    """``web.Server`` building :class:`SafeRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return SafeRequestHandler(self, loop=self._loop, **self._kwargs)


class ProxyAppRunner(web.AppRunner):
    """``web.AppRunner`` that serves its application through :class:`SafeServer`."""

    async def _make_server(self) -> web.Server:
        # aiohttp runs the startup signals and freezes the app; we keep its
        # handler, request factory and handler arguments, only the protocol changes.
        plain = await super()._make_server()
        return SafeServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **plain._kwargs,
        )
