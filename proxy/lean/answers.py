"""Writing the shared edge values as bytes on the lean engine.

Every answer the proxy makes itself — the ``/apis/auth/`` endpoints, each
:class:`~authgate.core.errors.AuthError` and each
:class:`~authgate.core.errors.GatewayError` — is composed once in the shared
runtime as an :class:`~authgate.proxy.edge.EdgeResponse`
(:func:`~authgate.proxy.edge.error_answer`); this module only frames it:
status line, fields, ``Date`` (RFC 9110 §6.6.1, as aiohttp sends it),
``Content-Length``, ``Connection: close`` when the connection ends, and no
body for ``HEAD``.  So a client cannot tell which engine answered.
"""

from __future__ import annotations

from authgate.core.errors import AuthError, GatewayError

from ..edge import EdgeResponse, error_answer
from .rewrite import http_date, status_line

__all__ = ["error_bytes", "render"]


def render(answer: EdgeResponse, *, close: bool, head: bool = False, http10: bool = False) -> bytes:
    """The full response for ``answer``; ``head`` omits the body (RFC 9110 §9.3.2);
    an HTTP/1.0 client kept open is told ``Connection: keep-alive``."""
    body = answer.body
    parts = [status_line(answer.status)]
    for name, value in answer.headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
    parts.append(b"Date: " + http_date() + b"\r\n")
    parts.append(b"Content-Length: %d\r\n" % len(body))
    if close or answer.close:
        parts.append(b"Connection: close\r\n")
    elif http10:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


def error_bytes(
    error: AuthError | GatewayError, *, close: bool, head: bool = False, http10: bool = False
) -> bytes:
    """:func:`render` of :func:`~authgate.proxy.edge.error_answer`."""
    return render(error_answer(error), close=close, head=head, http10=http10)
