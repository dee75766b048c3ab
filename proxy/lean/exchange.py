"""One proxied request: decide once, stream the request up, stream the answer down.

An :class:`Exchange` is created by the client connection when llhttp starts a
message and collects the request head; the connection's serving task then
calls :meth:`Exchange.run`, which

1. asks the core exactly once (:meth:`Gate.decide`) — a denial is answered
   here from the :class:`AuthError`, the request never reaches the upstream;
2. writes the rewritten head (the core's filtered header list + identity
   headers + ``X-Forwarded-*``) on a pooled upstream connection;
3. streams the request body as it arrives (buffering at most
   ``BODY_BUFFER_LIMIT`` bytes before the upstream is ready, then pausing the
   client), re-chunking a chunked body;
4. streams the response back through :class:`ResponseSink` callbacks,
   choosing framing for the client (RFC 9112 §6), with transport-level
   back-pressure both ways;
5. on ``101`` splices the two sockets (:mod:`.tunnel`).

The client going away aborts the upstream connection (the upstream request is
cancelled, never finished into the void).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from authgate.core.contracts import DISCOVERY_PATH
from authgate.core.errors import AuthError, InvalidRequest
from authgate.core.session.gate import BrowserAnswer

from .errors import (
    LeanHTTPError,
    auth_error_response,
    browser_response,
    error_response,
    overloaded,
)
from .rewrite import request_head, response_head
from .tunnel import CLOSE_GOING_AWAY, FrameTracker
from .upstream import BODY_CHUNKED, BODY_EOF, UpstreamConnection

if TYPE_CHECKING:  # pragma: no cover
    from .connection import ClientConnection

__all__ = ["BODY_BUFFER_LIMIT", "Exchange"]

#: Request-body bytes held per connection while the upstream is not ready yet.
BODY_BUFFER_LIMIT = 256 * 1024

_CHUNK_END = b"0\r\n\r\n"
_CRLF = b"\r\n"


class Exchange:
    """A request from one client connection and its proxied response."""

    __slots__ = (
        "auth_seconds",
        "body_bytes",
        "body_done",
        "body_queue",
        "chunk_out",
        "chunked_in",
        "close_after",
        "conn",
        "done",
        "expect_continue",
        "extra_response",
        "frames",
        "has_body",
        "head_sent",
        "headers",
        "http10",
        "keep_alive",
        "method",
        "outcome",
        "path",
        "pending_error",
        "reason",
        "retryable",
        "status",
        "subject",
        "t_head",
        "tunnel",
        "upgrade",
        "upgrade_value",
        "upstream",
        "upstream_seconds",
        "url",
    )

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = "GET"
        self.http10 = False
        self.keep_alive = True
        self.upgrade = False
        self.upgrade_value: bytes | None = None
        self.chunked_in = False
        self.has_body = False
        self.expect_continue = False
        self.body_done = False
        self.body_queue: list[bytes] | None = []
        self.body_bytes = 0
        self.upstream: UpstreamConnection | None = None
        self.done: asyncio.Future[None] | None = None
        self.head_sent = False
        self.chunk_out = False
        self.close_after = False
        self.tunnel = False
        self.frames: FrameTracker | None = None
        self.status = 0
        self.outcome = "allowed"
        self.reason: str | None = None
        self.subject: str | None = None
        self.path = ""
        self.auth_seconds: float | None = None
        self.upstream_seconds: float | None = None
        self.t_head = 0.0
        self.pending_error: LeanHTTPError | None = None
        self.retryable = False
        self.extra_response: list[tuple[bytes, bytes]] = []

    # -- request body, fed by the client connection's parser --------------
    def request_body(self, data: bytes) -> None:
        queue = self.body_queue
        if queue is None:  # streaming straight to the upstream
            upstream = self.upstream
            if upstream is None:
                return  # answered without the upstream: the body is discarded
            if self.chunked_in:
                upstream.write(b"%x\r\n" % len(data) + data + _CRLF)
            else:
                upstream.write(data)
            return
        queue.append(data)
        self.body_bytes += len(data)
        if self.body_bytes > BODY_BUFFER_LIMIT:
            self.conn.pause_for_buffer()

    def request_end(self) -> None:
        self.body_done = True
        if self.body_queue is None and self.upstream is not None and self.chunked_in:
            self.upstream.write(_CHUNK_END)

    # -- the request's life -------------------------------------------------
    async def run(self) -> None:
        conn = self.conn
        server = conn.server
        loop = server.loop
        t0 = loop.time()
        if server.in_flight >= server.max_in_flight:
            self.outcome = "shed"
            self._answer_error(overloaded())
            self._record(t0)
            return
        server.in_flight += 1
        try:
            await self._run(conn, t0)
        finally:
            server.in_flight -= 1
            if self.tunnel and server.on_ws_upgrade is not None:
                server.on_ws_upgrade("close")
            self._record(t0)

    async def _run(self, conn: ClientConnection, t0: float) -> None:
        server = conn.server
        target = self.url.decode("latin-1")
        if (
            server.discovery is not None
            and (self.method == "GET" or self.method == "HEAD")
            and target.split("?", 1)[0] == DISCOVERY_PATH
        ):
            self._answer_discovery()  # public, served by the proxy itself
            return
        gate = server.gate_provider()
        try:
            if not target.startswith("/"):
                # Absolute-form, authority-form and "*" are not for a sidecar (as aiohttp path).
                raise InvalidRequest(
                    "only origin-form request targets are accepted", reason="bad_request_target"
                )
            decision = await gate.decide(
                self.method,
                target,
                [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.headers],
            )
        except BrowserAnswer as answer:  # browser sign-in: a complete answer from the core
            self.auth_seconds = server.loop.time() - t0
            self.outcome = "denied" if answer.status >= 400 else "public"
            self.reason, self.status = answer.reason, answer.status
            self._drop_body()
            conn.write(browser_response(answer, close=self._closing()))
            return
        except AuthError as exc:
            self.auth_seconds = server.loop.time() - t0
            self.outcome, self.reason, self.status = "denied", exc.reason, exc.status
            self._drop_body()
            conn.write(auth_error_response(exc, server.realm, close=self._closing()))
            return
        self.extra_response = [
            (n.encode("latin-1"), v.encode("latin-1")) for n, v in decision.response_headers
        ]
        self.auth_seconds = server.loop.time() - t0
        self.path = decision.path
        principal = decision.principal
        if principal is not None:
            self.subject = principal.subject
        if decision.public:
            self.outcome = "public"
        if self.expect_continue and not self.body_done and self.body_bytes == 0:
            conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # RFC 9110 §10.1.1, after auth
        if self.pending_error is not None:  # the body broke while we were deciding
            self.status = -1
        head = request_head(
            self.method,
            self.url,
            decision.upstream_headers,
            self._extra(),
            drop_forwarded=server.set_forwarded,
        )
        for attempt in (0, 1) if self.status != -1 else ():
            try:
                upstream, reused = await server.pool.acquire()
            except LeanHTTPError as exc:
                self._answer_error(exc)
                return
            if conn.closed or self.pending_error is not None:
                server.pool.release(upstream)
                break
            self.done = server.loop.create_future()
            self.upstream = upstream
            self.t_head = server.loop.time()
            upstream.start(self, head, head_request=self.method == "HEAD")
            self._flush_body()
            if conn.write_paused:
                upstream.pause_reading()
            await self.done
            if (
                self.status == -1
                and self.retryable
                and reused
                and attempt == 0
                and not self.head_sent
                and not self.has_body
                and not conn.closed
            ):
                # A pooled connection the upstream had just closed: retry once, fresh.
                self.status = 0
                self.upstream = None
                self.body_queue = []
                continue
            break
        error = self.pending_error
        if self.status == -1 and error is not None and not conn.closed:
            self.pending_error = None
            self._answer_error(error)

    def _extra(self) -> list[tuple[bytes, bytes]]:
        extra: list[tuple[bytes, bytes]] = []
        server = self.conn.server
        if server.set_forwarded:
            # As the aiohttp path: X-Forwarded-* describe the peer we saw (the
            # core has dropped every client spelling of them).
            xff = self.conn.peer_host
            proto = b"http"
            host = b""
            for name, value in self.headers:
                if len(name) == 4 and name.lower() == b"host":
                    host = value
                    break
            extra.append((b"X-Forwarded-For", xff))
            extra.append((b"X-Forwarded-Proto", proto))
            if host:
                extra.append((b"X-Forwarded-Host", host))
        if self.chunked_in:
            extra.append((b"Transfer-Encoding", b"chunked"))
        if self.upgrade and self.upgrade_value is not None:
            extra.append((b"Connection", b"Upgrade"))
            extra.append((b"Upgrade", self.upgrade_value))
        return extra

    def _flush_body(self) -> None:
        queue = self.body_queue
        upstream = self.upstream
        self.body_queue = None
        if queue is None or upstream is None:
            return
        if queue:
            if self.chunked_in:
                for data in queue:
                    upstream.write(b"%x\r\n" % len(data) + data + _CRLF)
            else:
                for data in queue:
                    upstream.write(data)
            self.body_bytes = 0
            self.conn.resume_for_buffer()
        if self.body_done and self.chunked_in:
            upstream.write(_CHUNK_END)

    def _drop_body(self) -> None:
        """The request is answered without the upstream: discard its body."""
        if self.body_queue:
            self.body_queue = None
            self.body_bytes = 0
            self.conn.resume_for_buffer()
        self.body_queue = None

    def _closing(self) -> bool:
        """Whether the client connection must close after this answer."""
        if not self.keep_alive or self.upgrade or self.conn.draining:
            self.close_after = True
        elif self.has_body and not self.body_done:
            # The rest of an unread body would be taken for the next request.
            self.close_after = True
        return self.close_after

    def _answer_error(self, exc: LeanHTTPError) -> None:
        self.status, self.reason = exc.status, exc.reason
        if exc.status >= 500 and self.outcome != "shed":
            self.outcome = "upstream_error"
        elif exc.status < 500:
            self.outcome = "rejected"
        self._drop_body()
        self.conn.write(error_response(exc, close=self._closing()))

    def _answer_discovery(self) -> None:
        server = self.conn.server
        assert server.discovery is not None
        payload = json.dumps(server.discovery(), separators=(",", ":")).encode()
        self.status, self.outcome, self.path = 200, "public", DISCOVERY_PATH
        self._drop_body()
        close = self._closing()
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache\r\n"
            b"Content-Length: %d\r\n" % len(payload)
        )
        if close:
            head += b"Connection: close\r\n"
        self.conn.write(head + _CRLF + (b"" if self.method == "HEAD" else payload))

    def _record(self, t0: float) -> None:
        hook = self.conn.server.on_request
        if hook is not None:
            self.conn.server.record(self, t0)

    # -- ResponseSink: called by the upstream connection -------------------
    def response_head(
        self, status: int, reason: bytes, headers: list[tuple[bytes, bytes]], framing: int
    ) -> None:
        conn = self.conn
        if status < 200 and status != 101:
            if not self.http10:
                conn.write(response_head(status, reason, headers, framing=None, close=False))
            return
        self.upstream_seconds = conn.server.loop.time() - self.t_head if self.t_head else None
        self.status = status
        if status == 101:
            self.head_sent = True
            self.close_after = True
            conn.write(
                response_head(status, reason, headers, framing=None, close=False, keep_upgrade=True)
            )
            return
        chunk = False
        close = self._closing()
        if framing == BODY_CHUNKED or framing == BODY_EOF:
            if self.http10:
                close = self.close_after = True  # delimited by our close
            else:
                chunk = True
        elif self.upgrade:
            close = True
        self.chunk_out = chunk
        self.head_sent = True
        if self.extra_response:  # the gate's Set-Cookie (a refreshed browser session)
            headers = [*headers, *self.extra_response]
        conn.write(
            response_head(
                status, reason, headers, framing=b"chunked" if chunk else None, close=close
            )
        )

    def response_body(self, data: bytes) -> None:
        if self.chunk_out:
            self.conn.writelines((b"%x\r\n" % len(data), data, _CRLF))
        else:
            self.conn.write(data)

    def response_end(self, reusable: bool) -> None:
        conn = self.conn
        upstream = self.upstream
        if self.tunnel:
            conn.close()
        else:
            if self.chunk_out:
                conn.write(_CHUNK_END)
            if upstream is not None:
                if reusable and self.body_done and not self.upgrade:
                    conn.server.pool.release(upstream)
                else:
                    upstream.abort()
            if not self.body_done:
                self.close_after = True
        self._resolve()

    def response_upgraded(self, leftover: bytes) -> None:
        upstream = self.upstream
        assert upstream is not None
        self.tunnel = True
        upstream.stop_timer()
        if self.upgrade_value is not None and self.upgrade_value.lower() == b"websocket":
            self.frames = FrameTracker()
        hook = self.conn.server.on_ws_upgrade
        if hook is not None:
            hook("open")
        self.conn.start_tunnel(self)
        if leftover:
            self.tunnel_data(leftover)

    def tunnel_data(self, data: bytes) -> None:
        frames = self.frames
        if frames is not None:
            frames.feed(data)
        self.conn.write(data)
        if self.conn.draining and frames is not None and frames.at_boundary:
            self.going_away()

    def tunnel_client_data(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)

    def going_away(self) -> None:
        """Drain: close the WebSocket with 1001 at a frame boundary, or later."""
        frames = self.frames
        if frames is None:
            self.conn.close()
            return
        if frames.at_boundary:
            self.conn.write(CLOSE_GOING_AWAY)
            if self.upstream is not None:
                self.upstream.abort()
                self.upstream = None
            self.conn.close()
            self._resolve()

    def upstream_failed(self, error: LeanHTTPError, *, retryable: bool = False) -> None:
        self.upstream = None
        self.retryable = retryable
        if self.tunnel:
            self.conn.close()
        elif self.head_sent:
            self.conn.abort()  # a half-sent answer cannot be completed
        else:
            self.pending_error = error
            self.status = -1
            if self.done is not None and not self.done.done():
                self.done.set_result(None)
            return
        self._resolve()

    def body_broken(self, error: LeanHTTPError) -> None:
        """The client's body cannot be parsed further: give up on the upstream
        and answer ``error`` — unless an answer is already under way."""
        if self.head_sent:
            self.conn.abort()
            self.client_lost()
            return
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            upstream.abort()
        self.pending_error = error
        self.status = -1
        self._resolve()

    def cork(self) -> None:
        self.conn.cork()

    def uncork(self) -> None:
        self.conn.uncork()

    def upstream_paused(self, paused: bool) -> None:
        if paused:
            self.conn.pause_for_upstream()
        else:
            self.conn.resume_for_upstream()

    def client_lost(self) -> None:
        """The client went away: cancel the upstream request."""
        pending = self.status <= 0 or (self.done is not None and not self.done.done())
        if not self.tunnel and pending:
            self.outcome, self.status = "client_closed", 499  # nginx's convention
        upstream = self.upstream
        self.upstream = None
        if upstream is not None:
            if self.tunnel and upstream.transport is not None:
                upstream.transport.close()  # let the last frames reach the upstream
                upstream.closed = True
            else:
                upstream.abort()
        self._resolve()

    def _resolve(self) -> None:
        done = self.done
        if done is not None and not done.done():
            done.set_result(None)
