"""Error answers of the lean path, byte-identical in content to the aiohttp path.

Auth failures are rendered from the core's :class:`AuthError` — status,
``WWW-Authenticate`` challenge (RFC 6750 §3) and the short JSON body — so a
client cannot tell which engine answered.  Protocol failures (bad request,
oversized head, upstream refused or timed out, overload) use the same JSON
shape with our own reason codes.  Nothing here ever formats request input
into a body: descriptions are fixed strings, so a token cannot leak.
"""

from __future__ import annotations

import json

from authgate.core.errors import AuthError
from authgate.core.session.gate import BrowserAnswer

from .rewrite import status_line

__all__ = [
    "LeanHTTPError",
    "auth_error_response",
    "browser_response",
    "error_response",
]


class LeanHTTPError(Exception):
    """A protocol-level failure answered by the lean path itself."""

    def __init__(self, status: int, reason: str, description: str, error: str) -> None:
        super().__init__(description)
        self.status = status
        self.reason = reason
        self.description = description
        self.error = error

    def body(self) -> dict[str, str]:
        return {"error": self.error, "reason": self.reason, "description": self.description}


def bad_request(description: str = "malformed HTTP request") -> LeanHTTPError:
    return LeanHTTPError(400, "malformed_request", description, "invalid_request")


def headers_too_large() -> LeanHTTPError:
    return LeanHTTPError(
        431, "headers_too_large", "request header fields too large", "invalid_request"
    )


def bad_gateway() -> LeanHTTPError:
    return LeanHTTPError(
        502, "upstream_unavailable", "the upstream refused the connection", "bad_gateway"
    )


def gateway_timeout() -> LeanHTTPError:
    return LeanHTTPError(
        504, "upstream_timeout", "the upstream did not answer in time", "gateway_timeout"
    )


def overloaded() -> LeanHTTPError:
    return LeanHTTPError(503, "overloaded", "too many requests in flight", "unavailable")


def _render(status: int, body: dict[str, str], challenge: str | None, close: bool) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = [
        status_line(status),
        b"Content-Type: application/json\r\n",
        b"Content-Length: %d\r\n" % len(payload),
        b"Cache-Control: no-store\r\n",
    ]
    if challenge is not None:
        head.append(b"WWW-Authenticate: " + challenge.encode("latin-1", "replace") + b"\r\n")
    if status == 503:
        head.append(b"Retry-After: 1\r\n")
    if close:
        head.append(b"Connection: close\r\n")
    head.append(b"\r\n")
    return b"".join(head) + payload


def auth_error_response(exc: AuthError, realm: str, *, close: bool) -> bytes:
    """A full response (head + JSON body) for an :class:`AuthError`."""
    return _render(exc.status, exc.body(), exc.www_authenticate(realm), close)


def error_response(exc: LeanHTTPError, *, close: bool) -> bytes:
    """A full response for a protocol-level failure."""
    return _render(exc.status, exc.body(), None, close)


def browser_response(answer: BrowserAnswer, *, close: bool) -> bytes:
    """A browser sign-in answer (redirect, page, JSON) exactly as the core composed it."""
    a = answer.answer
    head: list[bytes] = [status_line(a.status), b"Content-Length: %d\r\n" % len(a.body)]
    for name, value in a.headers:
        head.append(name.encode("latin-1") + b": " + value.encode("latin-1", "replace") + b"\r\n")
    if close:
        head.append(b"Connection: close\r\n")
    head.append(b"\r\n")
    return b"".join(head) + a.body
