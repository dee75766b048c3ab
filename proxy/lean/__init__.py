"""The lean HTTP/1.1 data path: an asyncio Protocol on httptools, calling the same core Gate.

Why a second data path: aiohttp's per-request machinery (request objects,
multidicts, middlewares, a client session) costs far more than the JWT check
itself — measured on a 2-core machine, about 5k req/s against ~30k for a bare
asyncio Protocol with the llhttp parser.  This package serves HTTP/1.1
(keep-alive, pipelining, chunked bodies, upgrades) with raw byte-level header
rewriting, and reuses :class:`authgate.core.gate.Gate` unchanged, so every
authentication and authorization rule is identical on both paths.

Entry point (the contract the proxy's engine dispatch wires to)::

    async def serve_lean(
        config: ProxyConfig,
        gate_provider: Callable[[], Gate],
        *,
        sock: socket.socket | None = None,
        on_ws_upgrade: UpgradeHook | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        discovery: Callable[[], Mapping[str, Any]] | None = None,
    ) -> LeanServer

* ``config`` — the parsed document; ``listen``, ``upstream``, ``limits`` and
  ``headers.set_forwarded`` are read once at start (the proxy restarts for
  changes to those, see ``restart_required_changes``).
* ``gate_provider`` — called once per request, so a hot reload that swaps the
  Gate takes effect on the next request without dropping connections.
* ``sock`` — an already bound listening socket (e.g. inherited from the parent
  in a multi-worker setup); when ``None`` the server binds
  ``listen.host:listen.port`` itself, with ``SO_REUSEPORT`` when
  ``server.workers > 1``, so N worker processes calling ``serve_lean`` share
  the port and the kernel balances them.
* ``on_ws_upgrade`` — optional observer called with ``"open"``/``"close"`` when
  an authenticated upgrade starts/ends.  ``LeanServer.in_flight`` counts
  requests being served, open WebSockets included (the proxy's gauge reads
  it).  Upgrades
  themselves are handled here: after :meth:`Gate.decide` allows the request the
  rewritten head is sent upstream, and on ``101 Switching Protocols`` the raw
  byte streams are spliced both ways (fully transparent: frames, close codes,
  extensions pass untouched).  On drain the server sends a WebSocket close
  frame with code 1001 (going away) to the client at a frame boundary.
* ``on_request`` — optional hook called once per finished request with a
  :class:`RequestRecord` (method, normalised path, status, outcome, auth
  ``reason``, principal subject, ``auth_seconds``, ``upstream_seconds``,
  ``duration_seconds``, peer): the proxy feeds its Prometheus metrics and
  JSON access log from it, so both engines report the same series.  The
  token never appears in it.
* ``discovery`` — returns the discovery document (``Runtime.discovery``);
  ``GET``/``HEAD /apis/auth/discovery`` is then answered by the proxy itself
  without consulting the Gate, exactly as the aiohttp route does.

:class:`LeanServer` has ``port``, ``sockets``, ``close()``,
``async drain(grace: float | None = None) -> None`` (stop accepting, close
idle keep-alive connections, let in-flight requests finish with
``Connection: close``, 1001 to WebSockets, abort what is left after
``grace`` seconds, default ``limits.drain_timeout_seconds``) and
``async wait_closed()``.  Errors (``400``/``431``/``502``/``503``/``504`` and
every :class:`AuthError`) carry the same JSON bodies and challenges as the
aiohttp path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["LeanServer", "RequestRecord", "serve_lean"]

if TYPE_CHECKING:  # pragma: no cover
    from .server import LeanServer, RequestRecord, serve_lean


def __getattr__(name: str) -> Any:
    # Lazy: importing the package must not pull httptools/uvloop for the aiohttp engine.
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
