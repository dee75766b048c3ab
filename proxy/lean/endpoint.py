"""Serving a ``/apis/auth/`` endpoint on the lean engine.

The shared router (:mod:`authgate.proxy.routes`) does the work — method
check, the Gate when the endpoint asks for it, the bounded body, the
handler; this module only describes the exchange as an
:class:`~authgate.proxy.edge.EdgeRequest`, hands the router a body reader
over the exchange's queued chunks, and frames the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..edge import EdgeRequest
from ..routes import Endpoint, serve_endpoint
from .answers import render

if TYPE_CHECKING:  # pragma: no cover
    from ..runtime import Runtime
    from .exchange import Exchange

__all__ = ["edge_request", "serve"]


def edge_request(ex: Exchange, target: str) -> EdgeRequest:
    """The exchange's request head as the shared router sees it (no body yet)."""
    conn = ex.conn
    return EdgeRequest.from_head(
        ex.method,
        target,
        ex.headers,
        peer=conn.peer_host.decode("ascii", "replace"),
        scheme=conn.scheme.decode("ascii"),
    )


async def serve(ex: Exchange, endpoint: Endpoint, runtime: Runtime, target: str) -> None:
    """Answer ``ex`` from ``endpoint`` and fill in what the exchange records."""
    loop = ex.conn.server.loop
    result = await serve_endpoint(
        endpoint, runtime, edge_request(ex, target), ex.read_body, loop.time
    )
    answer = result.response
    ex.status, ex.outcome, ex.reason = answer.status, result.outcome, result.reason
    ex.path, ex.subject, ex.auth_seconds = endpoint.path, result.subject, result.auth_seconds
    ex._drop_body()
    close = ex._closing() or answer.close
    if answer.close:
        ex.close_after = True
    ex.conn.write(render(answer, close=close, head=ex.method == "HEAD"))
