"""Error answers of the proxy itself, as small JSON documents.

Auth failures follow RFC 6750 §3: 401/403 carry ``WWW-Authenticate: Bearer
realm="authgate", error=..., error_description=...`` (and ``scope=`` for
``insufficient_scope``), built by :meth:`AuthError.www_authenticate`; the body
is ``{"error", "reason", "description"}``.  Bodies and headers are composed
only from our own fixed strings — never from the request — so a token cannot
be echoed.  Gateway failures (502/504), load shedding (503) and oversized
headers (431, RFC 6585 §5) use the same body shape.
"""

from __future__ import annotations

import json

from aiohttp import web
from authgate.core.errors import AuthError

__all__ = ["REALM", "auth_error_response", "error_response"]

REALM = "authgate"

_NO_STORE = {"Cache-Control": "no-store"}


def _json(status: int, body: dict[str, str], headers: dict[str, str] | None = None) -> web.Response:
    all_headers = dict(_NO_STORE)
    if headers:
        all_headers.update(headers)
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=all_headers,
    )


def auth_error_response(error: AuthError, realm: str = REALM) -> web.Response:
    """401 / 403 / 400 for an :class:`AuthError`."""
    headers: dict[str, str] = {}
    challenge = error.www_authenticate(realm)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return _json(error.status, error.body(), headers)


def error_response(
    status: int, error: str, reason: str, description: str, *, retry_after: int | None = None
) -> web.Response:
    """A proxy-level failure (502, 503, 504, 431, ...)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _json(status, {"error": error, "reason": reason, "description": description}, headers)
