"""The lean HTTP/1.1 data path: an asyncio Protocol on httptools, calling the same core Gate.

Why a second data path: aiohttp's per-request machinery (request objects,
multidicts, middlewares, a client session) costs far more than the JWT check
itself — measured on a 2-core machine, about 5k req/s against ~30k for a bare
asyncio Protocol with the llhttp parser.  This package serves HTTP/1.1
(keep-alive, pipelining, chunked bodies, upgrades) with raw byte-level header
rewriting, and reuses :class:`authgate.core.gate.Gate` unchanged, so every
authentication and authorization rule is identical on both paths.

Entry point (the contract the proxy's engine dispatch wires to):
:func:`~authgate.proxy.lean.server.serve_lean` takes the config and the
runtime getter, then keyword-only ``sock``, ``on_ws_upgrade`` and
``on_request``, and returns a started :class:`LeanServer`:

* ``config`` — the parsed document; ``listen``, ``upstream`` (parsed into an
  :class:`~authgate.core.upstream.UpstreamTarget`: scheme, TLS, base path),
  and ``limits`` are read once at start (the proxy
  restarts for changes to those, see ``restart_required_changes``).
* ``runtime`` — returns the current :class:`~authgate.proxy.runtime.Runtime`
  and is called once per request, so a hot reload that swaps the Gate (or
  the ``/apis/auth/`` router) takes effect on the next request without
  dropping connections.
* ``sock`` — an already bound listening socket; when ``None`` the server
  binds ``listen.host:listen.port`` itself, with ``SO_REUSEPORT`` when
  ``server.workers > 1``, so N worker processes share the port.
* ``on_ws_upgrade`` — optional observer called with ``"open"``/``"close"``
  around an authorised websocket tunnel.  Only ``Upgrade: websocket`` is
  ever tunnelled, and only after :meth:`Gate.decide` allowed the request
  (every other upgrade token is dropped; a ``101`` the request did not ask
  for is a ``502``).  On drain the server sends a WebSocket close frame with
  code 1001 (going away) to the client at a frame boundary.
* ``on_request`` — called once per finished request with a
  :class:`~authgate.proxy.records.RequestRecord`; the proxy passes its one
  :class:`~authgate.proxy.records.RequestObserver`, as the aiohttp engine
  does, so both report the same series and access-log lines.

:class:`LeanServer` has ``port``, ``sockets``, ``close()``,
``async drain(grace: float | None = None) -> None`` and
``async wait_closed()``.  Every answer the proxy makes itself is composed in
the shared runtime (:mod:`authgate.proxy.edge`) and only framed here, so it
is the same as the aiohttp engine's.
"""

from __future__ import annotations

# A plain re-export: httptools and uvloop are hard dependencies, and no module of
# this package imports the package itself, so there is no cycle to defer.  The
# aiohttp engine never imports this package (the runner imports
# ``.lean.server`` only when the lean engine is chosen).
from .server import LeanServer, RequestRecord, serve_lean

__all__ = ["LeanServer", "RequestRecord", "serve_lean"]
