"""The admin listener: liveness, readiness and Prometheus metrics, on plain asyncio.

It runs on its own port so probes and scrapes never compete with client
traffic for ``max_in_flight`` slots and are never exposed through the
client-facing Service.  Both engines use this one server (llhttp via
httptools, like the lean data path), so a lean sidecar never imports aiohttp
and the two engines cannot answer probes differently.

* ``/healthz`` — the process is alive and its event loop turns (with
  several workers: and no worker has died).
* ``/readyz`` — the client listener is up, keys are loaded for every
  accepted issuer and the process is not draining; it flips to 503 the
  moment SIGTERM arrives.  With ``server.workers > 1`` the supervisor answers
  it for the pod: ready only when *every* worker is (:mod:`~authgate.proxy.workers`).
* ``/metrics`` — the text exposition (with several workers: each worker's
  series with a ``worker`` label).

Only ``GET`` and ``HEAD`` without a body are served; anything else is a
short JSON error.  The connection is kept alive as HTTP/1.1 allows, so a
Prometheus scraper reuses it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httptools

from .lifecycle import Lifecycle
from .metrics import CONTENT_TYPE, Metrics
from .runtime import RuntimeHolder

__all__ = [
    "AdminServer",
    "Answer",
    "Handler",
    "json_answer",
    "process_handlers",
    "readiness",
    "start_admin",
]

log = logging.getLogger("authgate.proxy.admin")

#: ``(status, content type, body)``.
Answer = tuple[int, str, bytes]
Handler = Callable[[], Awaitable[Answer]]

JSON = "application/json; charset=utf-8"
MAX_ADMIN_HEAD = 8192  # probes and scrapes send a few hundred bytes
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def json_answer(status: int, value: Any) -> Answer:
    return status, JSON, json.dumps(value, separators=(",", ":")).encode()


def readiness(lifecycle: Lifecycle, holder: RuntimeHolder) -> tuple[bool, str | None]:
    """Whether this process should receive traffic, and why not."""
    if lifecycle.draining:
        return False, "draining"
    if not lifecycle.serving:
        return False, "starting"
    if not holder.ready:
        return False, "keys_not_loaded"
    return True, None


def readiness_answer(ready: bool, reason: str | None) -> Answer:
    if ready:
        return json_answer(200, {"ready": True})
    return json_answer(503, {"ready": False, "reason": reason})


def process_handlers(
    holder: RuntimeHolder, metrics: Metrics, lifecycle: Lifecycle
) -> dict[str, Handler]:
    """The three endpoints of a single proxy process."""

    async def healthz() -> Answer:
        return json_answer(200, {"status": "ok"})

    async def readyz() -> Answer:
        return readiness_answer(*readiness(lifecycle, holder))

    async def metrics_() -> Answer:
        return 200, CONTENT_TYPE, metrics.exposition()

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_}


class _AdminConnection(asyncio.Protocol):
    """One admin connection: requests answered in order, one at a time."""

    def __init__(self, server: AdminServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.head_bytes = 0
        self.has_body = False
        self.queue: asyncio.Queue[tuple[str, bytes, bool, bool] | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)
        self.task = asyncio.get_running_loop().create_task(self.serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        self.head_bytes += len(data)
        if self.head_bytes > MAX_ADMIN_HEAD * 4:
            self.fail(431)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(400)
        except httptools.HttpParserError:
            self.fail(400)

    # llhttp callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.has_body = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_ADMIN_HEAD:
            raise httptools.HttpParserError("request target too long")

    def on_body(self, body: bytes) -> None:
        self.has_body = True

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii", "replace")
        keep_alive = bool(self.parser.should_keep_alive())
        self.head_bytes = 0
        self.queue.put_nowait((method, self.url, keep_alive, self.has_body))

    def fail(self, status: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                _render(
                    *json_answer(status, {"error": _REASONS[status]}), head=False, keep_alive=False
                )
            )
            self.transport.close()

    async def serve(self) -> None:
        while (item := await self.queue.get()) is not None:
            method, url, keep_alive, has_body = item
            answer = await self.server.answer(method, url, has_body)
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            keep_alive = keep_alive and not self.server.closing
            transport.write(_render(*answer, head=method == "HEAD", keep_alive=keep_alive))
            if not keep_alive:
                transport.close()
                return


def _render(status: int, content_type: str, body: bytes, *, head: bool, keep_alive: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    if status == 405:
        lines.append("Allow: GET, HEAD")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


class AdminServer:
    """Serves ``routes`` (path → async handler) on one listening socket."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.connections: set[_AdminConnection] = set()
        self.closing = False
        self._server: asyncio.Server | None = None

    async def answer(self, method: str, url: bytes, has_body: bool) -> Answer:
        path = url.split(b"?", 1)[0].decode("latin-1")
        handler = self.routes.get(path)
        if handler is None:
            return json_answer(404, {"error": "not found"})
        if method not in ("GET", "HEAD") or has_body:
            return json_answer(405, {"error": "only GET and HEAD are served here"})
        try:
            return await handler()
        except Exception:
            log.exception("admin handler failed", extra={"path": path})
            return json_answer(500, {"error": "internal error"})

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AdminConnection(self), sock=sock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
            if conn.task is not None:
                conn.task.cancel()
        if self._server is not None:
            await self._server.wait_closed()


async def start_admin(host: str, port: int, routes: dict[str, Handler]) -> AdminServer:
    """Bind ``host:port`` (``EADDRINUSE`` if taken) and serve ``routes``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        server = AdminServer(routes)
        await server.start(sock)
    except BaseException:
        sock.close()
        raise
    return server
