"""Starting, observing and draining the lean server.

:func:`serve_lean` is the entry point the proxy's engine dispatch calls (see
the package docstring for the contract).  It binds with ``SO_REUSEPORT`` so
several worker processes can share one port and let the kernel spread
connections (each process runs its own event loop, pool and token cache), and
it reads the config once: hot reloads reach the lean path through
``runtime`` (the holder's current snapshot), which is read on every request.

Draining (SIGTERM): stop accepting, close idle keep-alive connections, let
busy ones finish their current answer with ``Connection: close``, send 1001
to WebSockets at a frame boundary, and abort whatever is left when the
timeout expires.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from authgate.core.config import ProxyConfig
from authgate.core.upstream import UpstreamTarget

from ..records import RequestRecord
from ..upstream_tls import upstream_ssl_context
from .connection import ClientConnection
from .upstream import UpstreamPool

if TYPE_CHECKING:  # pragma: no cover
    from ..runtime import Runtime
    from .exchange import Exchange

__all__ = ["LeanServer", "RequestRecord", "UpgradeHook", "bind_reuseport", "serve_lean"]

#: Called with ``"open"``/``"close"`` around an authenticated upgrade.
UpgradeHook = Callable[[str], None]


def bind_reuseport(
    host: str, port: int, *, reuse_port: bool = True, backlog: int = 1024
) -> socket.socket:
    """A listening TCP socket, with ``SO_REUSEPORT`` when ``reuse_port`` (Linux
    ≥ 3.9 balances accepted connections across every socket bound to the same
    port).  Only multi-worker setups ask for it: with one worker a second
    process on the same port must fail with ``EADDRINUSE``, not share traffic."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class LeanServer:
    """A running lean server: its socket, connections, pool and counters."""

    def __init__(
        self,
        config: ProxyConfig,
        runtime: Callable[[], Runtime],
        *,
        on_ws_upgrade: UpgradeHook | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.runtime = runtime
        self.on_ws_upgrade = on_ws_upgrade
        self.on_request = on_request
        self.max_header_bytes = config.limits.max_header_bytes
        self.max_in_flight = config.limits.max_in_flight
        self.drain_timeout = config.limits.drain_timeout_seconds
        self.upstream = UpstreamTarget.from_config(config.upstream)
        self.pool = UpstreamPool(self.upstream, upstream_ssl_context(self.upstream))
        self.connections: set[ClientConnection] = set()
        self.in_flight = 0
        self._server: asyncio.Server | None = None
        self._all_closed = asyncio.Event()

    async def start(self, sock: socket.socket) -> None:
        self._server = await self.loop.create_server(
            lambda: ClientConnection(self), sock=sock, backlog=1024
        )

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def port(self) -> int:
        for sock in self.sockets:
            return int(sock.getsockname()[1])
        raise RuntimeError("the lean server is not listening")

    def record(self, ex: Exchange, t0: float) -> None:
        hook = self.on_request
        if hook is None:
            return
        hook(
            RequestRecord(
                method=ex.method,
                path=ex.path or ex.url.split(b"?", 1)[0].decode("latin-1"),
                status=ex.status,
                outcome=ex.outcome,
                reason=ex.reason,
                principal=ex.subject,
                auth_seconds=ex.auth_seconds,
                upstream_seconds=ex.upstream_seconds,
                duration_seconds=self.loop.time() - t0,
                peer=ex.conn.peer_host.decode("ascii", "replace"),
            )
        )

    def close(self) -> None:
        """Stop accepting new connections."""
        if self._server is not None:
            self._server.close()

    def forget(self, conn: ClientConnection) -> None:
        """A connection closed (called from ``connection_lost``)."""
        self.connections.discard(conn)
        if not self.connections:
            self._all_closed.set()

    async def drain(self, grace: float | None = None) -> None:
        """Stop accepting, finish in-flight requests, then close everything;
        whatever is still open after ``grace`` seconds (default
        ``limits.drain_timeout_seconds``) is aborted."""
        self.close()
        for conn in list(self.connections):
            conn.drain()
        if self.connections:
            self._all_closed.clear()
            try:
                async with asyncio.timeout(self.drain_timeout if grace is None else grace):
                    await self._all_closed.wait()
            except TimeoutError:
                pass
        for conn in list(self.connections):
            conn.abort()
        self.pool.close()

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()


async def serve_lean(
    config: ProxyConfig,
    runtime: Callable[[], Runtime],
    *,
    sock: socket.socket | None = None,
    on_ws_upgrade: UpgradeHook | None = None,
    on_request: Callable[[RequestRecord], None] | None = None,
) -> LeanServer:
    """Start serving ``config.listen`` (or ``sock``) on the running loop."""
    server = LeanServer(config, runtime, on_ws_upgrade=on_ws_upgrade, on_request=on_request)
    if sock is None:
        sock = bind_reuseport(
            config.listen.host, config.listen.port, reuse_port=config.server.workers > 1
        )
    await server.start(sock)
    return server
