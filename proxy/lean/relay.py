"""The response half of an exchange: what the upstream connection reports.

:class:`ResponseRelay` holds the :class:`~.upstream.ResponseSink` callbacks
of :class:`~.exchange.Exchange` (split out to keep each module readable):
the response head is re-framed for the client (RFC 9112 §6: Content-Length
passes through, anything else is re-chunked for HTTP/1.1 clients or
delimited by close for HTTP/1.0 ones), bodies stream with transport-level
back-pressure, a ``101`` to an authorised websocket request turns the
exchange into a tunnel (:mod:`.tunnel`), and failures before the head are
kept as ``pending_error`` for the exchange to answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from authgate.core.errors import BadGateway, GatewayError

from ..records import STATUS_CLIENT_CLOSED, Outcome
from .rewrite import response_head
from .tunnel import CLOSE_GOING_AWAY, FrameTracker
from .upstream import BODY_CHUNKED, BODY_EOF, UpstreamConnection

if TYPE_CHECKING:  # pragma: no cover
    from .connection import ClientConnection

__all__ = ["STATUS_FAILED", "ResponseRelay"]

#: ``Exchange.status`` while the upstream failed before any answer was sent:
#: ``pending_error`` holds the error to answer (or to retry on a fresh connection).
STATUS_FAILED = -1

_CHUNK_END = b"0\r\n\r\n"
_CRLF = b"\r\n"
#: A 101 to a request that did not ask for a websocket is never spliced (RFC 9110 §7.8).
_UNREQUESTED_SWITCH = BadGateway(
    "the upstream switched protocols unasked", reason="upstream_protocol_switch"
)


class ResponseRelay:
    """The :class:`~.upstream.ResponseSink` methods of an exchange (a mixin)."""

    __slots__ = (
        "chunk_out",
        "close_after",
        "frames",
        "head_sent",
        "outcome",
        "pending_error",
        "retryable",
        "status",
        "tunnel",
        "upstream",
        "upstream_seconds",
    )

    # Attributes owned by Exchange (declared here for the type checker).
    conn: ClientConnection
    upstream: UpstreamConnection | None
    done: asyncio.Future[None] | None
    status: int
    outcome: str
    http10: bool
    upgrade: bool
    websocket: bool
    head_sent: bool
    chunk_out: bool
    close_after: bool
    body_done: bool
    tunnel: bool
    frames: FrameTracker | None
    t_head: float
    upstream_seconds: float | None
    pending_error: GatewayError | None
    retryable: bool
    response_extra: tuple[tuple[bytes, bytes], ...]

    def _closing(self) -> bool:
        raise NotImplementedError

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
            upstream = self.upstream
            if not self.websocket or upstream is None:
                # Only an authorised websocket request may be tunnelled: anything
                # else spliced here would reach the app unauthenticated (h2c).
                if upstream is not None:
                    upstream.abort()
                self.upstream_failed(_UNREQUESTED_SWITCH)
                return
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
        conn.write(
            response_head(
                status,
                reason,
                headers,
                framing=b"chunked" if chunk else None,
                close=close,
                extra=self.response_extra,
                http10=self.http10,
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
        if upstream is None or not self.websocket:
            return  # refused in response_head: never spliced
        self.tunnel = True
        upstream.stop_timer()
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

    def upstream_failed(self, error: GatewayError, *, retryable: bool = False) -> None:
        self.upstream = None
        self.retryable = retryable
        if self.tunnel:
            self.conn.close()
        elif self.head_sent:
            self.conn.abort()  # a half-sent answer cannot be completed
        else:
            self.pending_error = error
            self.status = STATUS_FAILED
            if self.done is not None and not self.done.done():
                self.done.set_result(None)
            return
        self._resolve()

    def body_broken(self, error: GatewayError) -> None:
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
        self.status = STATUS_FAILED
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
            self.outcome, self.status = Outcome.CLIENT_CLOSED, STATUS_CLIENT_CLOSED
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
