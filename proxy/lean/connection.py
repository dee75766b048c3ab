"""The client side of the lean path: strict HTTP/1.1 parsing, keep-alive, pipelining.

Parsing is llhttp (via httptools) in its strict default mode, which already
rejects what request smuggling needs (RFC 9112 §6.1, §6.3, §5.2): both
``Content-Length`` and ``Transfer-Encoding``, duplicate or invalid
``Content-Length``, a ``Transfer-Encoding`` whose last coding is not
``chunked``, obsolete line folding, bare LF line endings and invalid header
names.  Any of these answers ``400`` and closes the connection; a request head
larger than ``limits.max_header_bytes`` answers ``431`` (RFC 6585 §5).

Pipelined requests (RFC 9112 §9.3.2) are parsed as they arrive and queued;
one serving task per connection answers them strictly in order.  Reading from
the socket pauses while too much is queued, while our write buffer towards
the upstream is full, or — through the exchange — the client does not read
its answers (``pause_writing``), so memory per connection stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from authgate.core.errors import AuthError, GatewayError, HeadersTooLarge, MalformedRequest
from authgate.core.gate import bad_request_target

from ..records import RequestRecord
from .answers import error_bytes
from .exchange import Exchange
from .relay import ResponseRelay

if TYPE_CHECKING:  # pragma: no cover
    from .server import LeanServer

__all__ = ["ClientConnection"]

log = logging.getLogger("authgate.proxy.lean")

# Reasons for not reading the client socket (a bit mask; reading resumes at 0).
_PAUSE_BUFFER = 1
_PAUSE_UPSTREAM = 2
_PAUSE_TUNNEL = 4

#: Pipelined requests queued before we stop reading.
MAX_PIPELINE = 32
#: Our write buffer towards the client (bytes) before we pause the upstream.
WRITE_HIGH_WATER = 256 * 1024
#: Bytes we keep reading past ``limits.max_header_bytes`` while llhttp is still
#: inside one head (e.g. a huge single field it buffers itself) before giving
#: up with 431: enough for the parser to report its own error first.
HEAD_OVERRUN_BYTES = 64 * 1024


class ClientConnection(asyncio.Protocol):
    """One client TCP connection."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer_host = b""
        self.peer = ""
        self.scheme = b"http"
        self.scheme_str = "http"
        self.closed = False
        self.draining = False
        self.write_paused = False
        self.current: Exchange | None = None
        self.tunnel: ResponseRelay | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._parsing: Exchange | None = None
        self._in_head = False
        self._head_bytes = 0
        self._since_head = 0
        self._queue: deque[Exchange] = deque()
        self._error: GatewayError | AuthError | None = None
        self._upgrade_buf: list[bytes] | None = None
        self._pauses = 0
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._corked: list[bytes] | None = None

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = self.transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.peer = str(peer[0])
            self.peer_host = self.peer.encode("ascii", "replace")
        if self.transport.get_extra_info("sslcontext") is not None:
            self.scheme = b"https"  # X-Forwarded-Proto says how the client reached us
            self.scheme_str = "https"
        self.server.connections.add(self)
        self._task = self.server.loop.create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        if tunnel is not None:
            tunnel.tunnel_client_data(data)
            return
        upgrade_buf = self._upgrade_buf
        if upgrade_buf is not None:
            upgrade_buf.append(data)  # bytes after an upgrade request, kept for the tunnel
            self._pause(_PAUSE_TUNNEL)
            return
        if self._error is not None:
            return
        self._since_head += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            self._upgrade_buf = [data[offset:]] if offset < len(data) else []
            self._pause(_PAUSE_TUNNEL)
            return
        except httptools.HttpParserCallbackError as exc:
            ctx = exc.__context__
            self._protocol_error(ctx if isinstance(ctx, GatewayError) else MalformedRequest())
            return
        except httptools.HttpParserInvalidURLError:
            self._protocol_error(bad_request_target())  # as the Gate and aiohttp answer it
            return
        except httptools.HttpParserError:
            self._protocol_error(MalformedRequest())
            return
        if self._in_head and self._since_head > self.server.max_header_bytes + HEAD_OVERRUN_BYTES:
            self._protocol_error(HeadersTooLarge())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.forget(self)
        for ex in (self.current, self.tunnel, self._parsing):
            if ex is not None:
                ex.client_lost()
        self._queue.clear()
        self._wake()

    def pause_writing(self) -> None:
        self.write_paused = True
        ex = self.tunnel or self.current
        if ex is not None and ex.upstream is not None:
            ex.upstream.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        ex = self.tunnel or self.current
        if ex is not None and ex.upstream is not None:
            ex.upstream.resume_reading()

    # -- llhttp callbacks -------------------------------------------------
    def on_message_begin(self) -> None:
        self._parsing = Exchange(self)
        self._in_head = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        ex.url += url
        self._head_bytes += len(url)
        if self._head_bytes > self.server.max_header_bytes:
            raise HeadersTooLarge()

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        if not self._in_head:
            return  # chunked trailer fields are not forwarded
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.server.max_header_bytes:
            raise HeadersTooLarge()
        ex.headers.append((name, value))
        size = len(name)
        if size == 14 and name.lower() == b"content-length":
            ex.has_body = value.strip() != b"0"
            ex.framed = True
        elif size == 17 and name.lower() == b"transfer-encoding":
            ex.has_body = ex.chunked_in = ex.framed = True
        elif size == 7 and name.lower() == b"upgrade":
            ex.upgrade_value = value
        elif size == 6 and name.lower() == b"expect":
            ex.expect_continue = value.strip().lower() == b"100-continue"
        elif size == 10 and name.lower() == b"connection" and b"close" in value.lower():
            # ``close`` wins over a ``keep-alive`` in another Connection field
            # (RFC 9112 §9.6); llhttp keeps an HTTP/1.0 connection that has both.
            ex.keep_alive = False

    def on_headers_complete(self) -> None:
        ex = self._parsing
        assert ex is not None
        parser = self._parser
        self._in_head = False
        self._since_head = 0
        ex.method = parser.get_method().decode("ascii")
        version = parser.get_http_version()
        ex.http10 = version == "1.0"
        if version != "1.1":
            major, _, minor = version.partition(".")
            ex.version = (int(major or 0), int(minor or 0))
        ex.keep_alive = ex.keep_alive and parser.should_keep_alive()
        ex.upgrade = parser.should_upgrade()
        if ex.method == "CONNECT":
            raise MalformedRequest("CONNECT is not supported")
        self._queue.append(ex)
        if len(self._queue) > MAX_PIPELINE:
            self._pause(_PAUSE_BUFFER)
        self._wake()

    def on_body(self, body: bytes) -> None:
        ex = self._parsing
        if ex is not None:
            ex.request_body(body)

    def on_message_complete(self) -> None:
        ex = self._parsing
        self._parsing = None
        if ex is not None:
            ex.request_end()

    # -- serving ----------------------------------------------------------
    async def _serve(self) -> None:
        queue = self._queue
        try:
            while not self.closed:
                if not queue:
                    if self._error is not None:
                        self._answer_protocol_error(self._error)
                        return
                    if self.draining:
                        self.close()
                        return
                    self._waiter = self.server.loop.create_future()
                    await self._waiter
                    self._waiter = None
                    continue
                ex = queue.popleft()
                self.current = ex
                await ex.run()
                self.current = None
                if ex.tunnel or ex.close_after or not ex.keep_alive:
                    self.close()
                    return
                if self._pauses & _PAUSE_BUFFER and len(queue) <= MAX_PIPELINE:
                    self._resume(_PAUSE_BUFFER)
        except Exception:
            log.exception("lean connection failed")
            self.abort()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _protocol_error(self, error: GatewayError | AuthError) -> None:
        """Unparseable input: answer after the queued requests, then close."""
        self._error = error
        self._pause(_PAUSE_BUFFER)
        ex, self._parsing = self._parsing, None
        if ex is not None and not self._in_head:
            # Broken mid-body: that request is answered with the error instead.
            if ex is self.current:
                ex.body_broken(error if isinstance(error, GatewayError) else MalformedRequest())
            elif ex in self._queue:
                self._queue.remove(ex)
        self._wake()

    def _answer_protocol_error(self, error: GatewayError | AuthError) -> None:
        self.write(error_bytes(error, close=True))
        self.close()
        hook = self.server.on_request
        if hook is not None:  # as the aiohttp engine reports its parser's refusals
            hook(
                RequestRecord.refused(
                    error.status, error.reason, self.peer_host.decode("ascii", "replace")
                )
            )

    # -- used by the exchange ---------------------------------------------
    def write(self, data: bytes) -> None:
        corked = self._corked
        if corked is not None:
            corked.append(data)
        elif not self.closed and self.transport is not None:
            self.transport.write(data)

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        corked = self._corked
        if corked is not None:
            corked.extend(parts)
        elif not self.closed and self.transport is not None:
            self.transport.writelines(parts)

    def cork(self) -> None:
        """Collect writes until :meth:`uncork`: one upstream read (head, body
        pieces, chunk framing) then leaves in one ``writev`` instead of several
        ``write`` calls — on loopback the syscalls are most of the cost."""
        if self._corked is None:
            self._corked = []

    def uncork(self) -> None:
        corked, self._corked = self._corked, None
        if not corked or self.closed or self.transport is None:
            return
        if len(corked) == 1:
            self.transport.write(corked[0])
        else:
            self.transport.writelines(corked)

    def close(self) -> None:
        self.uncork()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def start_tunnel(self, ex: ResponseRelay) -> None:
        """The upstream switched protocols: from now on bytes pass unparsed."""
        self.tunnel = ex
        pending, self._upgrade_buf = self._upgrade_buf or [], None
        for data in pending:
            ex.tunnel_client_data(data)
        self._resume(_PAUSE_TUNNEL)

    def pause_for_buffer(self) -> None:
        self._pause(_PAUSE_BUFFER)

    def resume_for_buffer(self) -> None:
        if len(self._queue) <= MAX_PIPELINE:
            self._resume(_PAUSE_BUFFER)

    def pause_for_upstream(self) -> None:
        self._pause(_PAUSE_UPSTREAM)

    def resume_for_upstream(self) -> None:
        self._resume(_PAUSE_UPSTREAM)

    def _pause(self, reason: int) -> None:
        if not self._pauses and self.transport is not None and not self.closed:
            self.transport.pause_reading()
        self._pauses |= reason

    def _resume(self, reason: int) -> None:
        if not self._pauses & reason:
            return
        self._pauses &= ~reason
        if not self._pauses and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # -- drain ------------------------------------------------------------
    def drain(self) -> None:
        """Finish what is in flight, then close; idle connections close now."""
        self.draining = True
        if self.tunnel is not None:
            self.tunnel.going_away()
        elif self.current is None and not self._queue and self._parsing is None:
            self.close()
        self._wake()
