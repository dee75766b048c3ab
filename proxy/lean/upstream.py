"""Raw keep-alive connections to the upstream, and the response parser.

One :class:`UpstreamConnection` carries one request at a time (no upstream
pipelining: a stalled response must never hold another client's request).
The response is parsed with httptools' llhttp response parser and handed,
callback by callback, to the :class:`ResponseSink` of the exchange that owns
the connection, which streams it to the client — so a body is never held
whole.  Back-pressure is transport-level: when the client's socket buffer is
full the exchange calls :meth:`UpstreamConnection.pause_reading`, and when our
write buffer towards the upstream fills, :meth:`ResponseSink.upstream_paused`
lets the exchange stop reading the client.

Idle connections go back to :class:`UpstreamPool` (bounded by
``upstream.max_connections``); a connection that saw any error, an
unfinished body, or ``Connection: close`` is discarded.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol, cast

import httptools

from authgate.core.errors import BadGateway, GatewayError, GatewayTimeout, upstream_refused
from authgate.core.upstream import UpstreamTarget

__all__ = ["ResponseSink", "UpstreamConnection", "UpstreamPool"]

# Framing of the upstream response body as received.
BODY_NONE = 0  # HEAD, 1xx, 204, 304
BODY_LENGTH = 1  # Content-Length
BODY_CHUNKED = 2  # Transfer-Encoding: chunked (llhttp de-chunks; we re-chunk)
BODY_EOF = 3  # delimited by the upstream closing the connection


class ResponseSink(Protocol):
    """What an upstream connection reports to the exchange it serves."""

    def response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], framing: int
    ) -> None: ...

    def response_body(self, data: bytes) -> None: ...

    def response_end(self, reusable: bool) -> None: ...

    def response_upgraded(self, leftover: bytes) -> None: ...

    def tunnel_data(self, data: bytes) -> None: ...

    def upstream_failed(self, error: GatewayError, *, retryable: bool = False) -> None: ...

    def upstream_paused(self, paused: bool) -> None: ...

    def cork(self) -> None: ...

    def uncork(self) -> None: ...


class UpstreamConnection(asyncio.Protocol):
    """One raw connection to the upstream, parsing responses with llhttp."""

    __slots__ = (
        "_framing",
        "_headers",
        "_last_activity",
        "_parser",
        "_reason",
        "_timeout",
        "_timer",
        "closed",
        "head_request",
        "loop",
        "paused",
        "received",
        "sink",
        "transport",
        "tunnel",
        "used",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, read_timeout: float) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.sink: ResponseSink | None = None
        self.closed = False
        self.used = 0
        self.head_request = False
        self.tunnel = False
        self.paused = False
        self.received = 0
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._framing = BODY_NONE
        self._timeout = read_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._last_activity = 0.0

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:
            # Bytes while idle (or after the response): the connection is out of step.
            self.abort()
            return
        self._last_activity = self.loop.time()
        self.received += len(data)
        if self.tunnel:
            sink.tunnel_data(data)
            return
        sink.cork()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.tunnel = True
            self._cancel_timer()
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            sink.response_upgraded(data[offset:])
        except httptools.HttpParserError:
            self.closed = True
            self._fail(BadGateway())
        finally:
            sink.uncork()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        sink = self.sink
        if sink is None:
            return
        if self._framing == BODY_EOF and not self.tunnel:
            # A close-delimited body ends with the connection (RFC 9112 §6.3 item 8).
            self.sink = None
            sink.response_end(False)
        else:
            # Closed before a single response byte: a stale keep-alive connection
            # that the upstream dropped as we reused it; safe to retry (RFC 9112 §9.3.1).
            self._fail(BadGateway(), retryable=self.received == 0)

    def pause_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_paused(True)

    def resume_writing(self) -> None:
        if self.sink is not None:
            self.sink.upstream_paused(False)

    # -- llhttp callbacks -------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        headers = self._headers
        if self.head_request or status < 200 or status in (204, 304):
            framing = BODY_NONE
        else:
            framing = BODY_EOF
            for name, _ in headers:
                low = name.lower()
                if low == b"transfer-encoding":
                    framing = BODY_CHUNKED
                    break
                if low == b"content-length":
                    framing = BODY_LENGTH
        self._framing = framing
        sink = self.sink
        if sink is None:
            return
        if 100 <= status < 200 and status != 101:
            sink.response_head(status, self._reason, headers, BODY_NONE)
            return
        sink.response_head(status, self._reason, headers, framing)
        if self.head_request and self.sink is sink:
            # llhttp cannot know this answers a HEAD: finish here, use a fresh parser next time.
            reusable = parser.should_keep_alive()
            self._parser = httptools.HttpResponseParser(self)
            self._finish(reusable)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.response_body(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._headers = []  # an interim answer; the final one follows
            self._reason = b""
            return
        if status == 101:
            return  # HttpParserUpgrade follows from feed_data
        self._finish(self._parser.should_keep_alive())

    # -- exchange API -----------------------------------------------------
    def start(self, sink: ResponseSink, head: bytes, *, head_request: bool) -> None:
        """Send a request head; the response goes to ``sink``."""
        self.sink = sink
        self.used += 1
        self.received = 0
        self.head_request = head_request
        self._headers = []
        self._reason = b""
        self._framing = BODY_NONE
        self._last_activity = self.loop.time()
        if self._timer is None:
            self._timer = self.loop.call_later(self._timeout, self._check_timeout)
        assert self.transport is not None
        self.transport.write(head)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def pause_reading(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        """Drop the connection now (client went away, error, or out of step)."""
        self.closed = True
        self.sink = None
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    def stop_timer(self) -> None:
        """The exchange is a tunnel now: no read timeout applies."""
        self._cancel_timer()

    # -- internals --------------------------------------------------------
    def _finish(self, reusable: bool) -> None:
        sink = self.sink
        self.sink = None  # the timer stops itself on its next tick while idle
        if sink is not None:
            sink.response_end(reusable and not self.closed)

    def _fail(self, error: GatewayError, *, retryable: bool = False) -> None:
        sink = self.sink
        self.sink = None
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()
        if sink is not None:
            sink.upstream_failed(error, retryable=retryable)

    def _check_timeout(self) -> None:
        self._timer = None
        if self.sink is None or self.tunnel:
            return
        idle = self.loop.time() - self._last_activity
        if idle >= self._timeout:
            self.closed = True
            self._fail(GatewayTimeout())
        else:
            self._timer = self.loop.call_later(self._timeout - idle, self._check_timeout)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class UpstreamPool:
    """Keep-alive connections to one upstream; idle ones are reused LIFO.

    With an ``https://`` upstream every connection is TLS with ``ssl_context``
    (certificate verification on, SNI and hostname check against the
    upstream's host name, as aiohttp's client does)."""

    def __init__(self, target: UpstreamTarget, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = target.host
        self.port = target.port
        self.connect_timeout = target.connect_timeout
        self.read_timeout = target.read_timeout
        self.max_idle = target.max_connections
        self.ssl_context = ssl_context
        self._idle: list[UpstreamConnection] = []
        self.connects = 0

    async def acquire(self) -> tuple[UpstreamConnection, bool]:
        """An idle connection (``reused=True``) or a new one; raises GatewayError."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn, True
        return await self.connect(), False

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        timeout = self.read_timeout
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: UpstreamConnection(loop, timeout),
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context is not None else None,
                )
        except TimeoutError:
            raise GatewayTimeout() from None
        except OSError:
            raise upstream_refused() from None
        self.connects += 1
        return proto

    def release(self, conn: UpstreamConnection) -> None:
        if conn.closed or conn.tunnel:
            return
        if conn.paused:
            conn.resume_reading()
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.abort()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().abort()
