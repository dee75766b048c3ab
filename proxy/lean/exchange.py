"""One proxied request: decide once, stream the request up, stream the answer down.

An :class:`Exchange` is created by the client connection when llhttp starts a
message and collects the request head; the connection's serving task then
calls :meth:`Exchange.run`, which

1. answers a target of the shared ``/apis/auth/`` router itself
   (:mod:`.endpoint`);
2. asks the core exactly once (:meth:`Gate.decide`) — a denial is answered
   here from the :class:`AuthError`, the request never reaches the upstream;
3. writes the rewritten head (the core's filtered header list + identity
   headers + ``X-Forwarded-*``) on a pooled upstream connection;
4. streams the request body as it arrives (buffering at most
   ``BODY_BUFFER_LIMIT`` bytes before the upstream is ready, then pausing the
   client), re-chunking a chunked body;
5. streams the response back (:mod:`.relay`), and on ``101`` to an
   authorised websocket request splices the two sockets (:mod:`.tunnel`).

The client going away aborts the upstream connection (the upstream request is
cancelled, never finished into the void).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authgate.core.errors import AuthError, GatewayError, Overloaded
from authgate.core.headers import websocket_requested

from ..browser import refusal_answer
from ..records import Outcome
from .answers import error_bytes, render
from .endpoint import serve
from .relay import STATUS_FAILED, ResponseRelay
from .rewrite import request_head

if TYPE_CHECKING:  # pragma: no cover
    import asyncio

    from .connection import ClientConnection
    from .tunnel import FrameTracker
    from .upstream import UpstreamConnection

__all__ = ["BODY_BUFFER_LIMIT", "Exchange"]

#: Request-body bytes held per connection while the upstream is not ready yet.
BODY_BUFFER_LIMIT = 256 * 1024

_CHUNK_END = b"0\r\n\r\n"
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_CRLF = b"\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Exchange(ResponseRelay):
    """A request from one client connection and its proxied response."""

    __slots__ = (
        "auth_seconds",
        "body_bytes",
        "body_done",
        "body_limit",
        "body_queue",
        "body_waiter",
        "chunked_in",
        "conn",
        "done",
        "expect_continue",
        "framed",
        "has_body",
        "headers",
        "http10",
        "keep_alive",
        "method",
        "path",
        "reason",
        "response_extra",
        "subject",
        "t_head",
        "upgrade",
        "upgrade_value",
        "url",
        "version",
        "websocket",
    )

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = "GET"
        self.http10 = False
        self.version = (1, 1)
        self.keep_alive = True
        self.upgrade = False
        self.upgrade_value: bytes | None = None
        self.websocket = False
        self.chunked_in = False
        self.has_body = False
        self.framed = False
        self.expect_continue = False
        self.body_done = False
        self.body_queue: list[bytes] | None = []
        self.body_bytes = 0
        self.body_limit = -1
        self.body_waiter: asyncio.Future[None] | None = None
        self.upstream: UpstreamConnection | None = None
        self.done: asyncio.Future[None] | None = None
        self.head_sent = False
        self.chunk_out = False
        self.close_after = False
        self.tunnel = False
        self.frames: FrameTracker | None = None
        self.status = 0
        self.outcome: str = Outcome.ALLOWED
        self.reason: str | None = None
        self.subject: str | None = None
        self.path = ""
        self.auth_seconds: float | None = None
        self.upstream_seconds: float | None = None
        self.t_head = 0.0
        self.pending_error: GatewayError | None = None
        self.retryable = False
        self.response_extra: tuple[tuple[bytes, bytes], ...] = ()

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
        if 0 <= self.body_limit < self.body_bytes:
            self._wake_body()  # an endpoint's body is over its limit: answer 413 now

    def request_end(self) -> None:
        self.body_done = True
        if self.body_queue is None and self.upstream is not None and self.chunked_in:
            self.upstream.write(_CHUNK_END)
        self._wake_body()

    def _wake_body(self) -> None:
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read_body(self, limit: int) -> bytes | None:
        """The whole body for an endpoint, or ``None`` once it exceeds ``limit``."""
        self.invite_body()
        if not self.body_done and self.body_bytes <= limit:
            self.body_limit = limit
            self.body_waiter = self.conn.server.loop.create_future()
            await self.body_waiter
            self.body_waiter = None
        queue = self.body_queue or []
        if self.body_bytes > limit or not self.body_done:
            return None
        body = b"".join(queue)
        self._drop_body()
        return body

    def invite_body(self) -> None:
        """``100 Continue`` once the request is allowed (RFC 9110 §10.1.1)."""
        if self.expect_continue and not self.body_done and self.body_bytes == 0:
            self.expect_continue = False
            self.conn.write(_CONTINUE)

    # -- the request's life -------------------------------------------------
    async def run(self) -> None:
        conn = self.conn
        server = conn.server
        loop = server.loop
        t0 = loop.time()
        if server.in_flight >= server.max_in_flight:
            self.outcome = Outcome.SHED
            self._answer_error(Overloaded())
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
        runtime = server.runtime()
        target = self.url.decode("latin-1")
        endpoint = runtime.router.match(target)
        if endpoint is not None:
            await serve(self, endpoint, runtime, target)
            return
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.headers]
        try:
            decision = await runtime.gate.decide(
                self.method, target, headers, require_host=not self.http10, version=self.version
            )
        except AuthError as exc:
            self.auth_seconds = server.loop.time() - t0
            self.outcome, self.reason, self.status = Outcome.DENIED, exc.reason, exc.status
            self._drop_body()
            answer = refusal_answer(runtime, exc, self.method, target, headers)
            self.status = answer.status  # a login redirect is logged as the 302 it is
            conn.write(
                render(
                    answer, close=self._closing(), head=self.method == "HEAD", http10=self.http10
                )
            )
            return
        self.auth_seconds = server.loop.time() - t0
        self.path = decision.path
        principal = decision.principal
        if principal is not None:
            self.subject = principal.subject
        if decision.public:
            self.outcome = Outcome.PUBLIC
        if decision.response_headers:
            self.response_extra = tuple(
                (n.encode("latin-1"), v.encode("latin-1")) for n, v in decision.response_headers
            )
        if self.upgrade and not self.http10:
            self.websocket = websocket_requested(self.method, headers)
        self.invite_body()
        if self.pending_error is not None:  # the body broke while we were deciding
            self.status = STATUS_FAILED
        head = request_head(
            self.method,
            server.upstream.target_bytes(self.url),
            decision.upstream_headers,
            self._extra(runtime.gate.forwarding.values(conn.peer, conn.scheme_str, headers)),
        )
        await self._forward(conn, head)

    async def _forward(self, conn: ClientConnection, head: bytes) -> None:
        server = conn.server
        for attempt in (0, 1) if self.status != STATUS_FAILED else ():
            try:
                upstream, reused = await server.pool.acquire()
            except GatewayError as exc:
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
                self.status == STATUS_FAILED
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
        if self.status == STATUS_FAILED and error is not None and not conn.closed:
            self.pending_error = None
            self._answer_error(error)

    def _extra(self, forwarded: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
        """Framing, ``X-Forwarded-*`` (the core's :class:`ForwardingPlan`), and
        ``Host`` for an HTTP/1.0 client that sent none."""
        extra = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in forwarded]
        if self.http10 and not any(
            len(name) == 4 and name.lower() == b"host" for name, _ in self.headers
        ):
            extra.append((b"Host", self.conn.server.upstream.authority.encode("ascii")))
        if self.chunked_in:
            extra.append((b"Transfer-Encoding", b"chunked"))
        elif not self.framed and self.method not in _BODYLESS_METHODS:
            # A method whose content has a meaning, sent without any: say so
            # (RFC 9110 §8.6), as aiohttp's client does.
            extra.append((b"Content-Length", b"0"))
        if self.websocket:
            # The only upgrade we tunnel (RFC 6455 §4.1); every other token is dropped.
            extra.append((b"Connection", b"Upgrade"))
            extra.append((b"Upgrade", b"websocket"))
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

    def _answer_error(self, exc: GatewayError) -> None:
        self.status, self.reason = exc.status, exc.reason
        if exc.status >= 500 and self.outcome != Outcome.SHED:
            self.outcome = Outcome.UPSTREAM_ERROR
        elif exc.status < 500:
            self.outcome = Outcome.REJECTED
        self._drop_body()
        self.conn.write(
            error_bytes(exc, close=self._closing(), head=self.method == "HEAD", http10=self.http10)
        )

    def _record(self, t0: float) -> None:
        if self.conn.server.on_request is not None:
            self.conn.server.record(self, t0)
