"""The edge contract: engine-agnostic request and response values.

Everything the proxy answers *itself* — its ``/apis/auth/`` endpoints
(:mod:`authgate.proxy.routes`), every :class:`~authgate.core.errors.AuthError`
and every :class:`~authgate.core.errors.GatewayError` — is composed here as an
:class:`EdgeResponse` (status, headers, body) and only *written* by an
engine.  The engines therefore cannot disagree about a status, a challenge,
a body or a header; they differ only in how bytes reach the socket.

Error bodies follow RFC 6750 §3 for auth failures (401/403 carry
``WWW-Authenticate: Bearer realm="authgate", error=..., error_description=...``
and ``scope=`` for ``insufficient_scope``), and the same JSON shape,
``{"error", "reason", "description"}``, for the proxy's own failures (431,
502, 503 with ``Retry-After``, 504).  Bodies and headers are composed only
from our own fixed strings — never from the request — so a token cannot be
echoed.  ``Cache-Control: no-store`` keeps shared caches from storing them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authgate.core.errors import REALM, AuthError, GatewayError, InvalidRequest
from authgate.core.paths import normalize_path
from authgate.core.principal import Principal

__all__ = ["EdgeRequest", "EdgeResponse", "error_answer"]

_JSON = ("Content-Type", "application/json")


@dataclass(frozen=True, slots=True)
class EdgeRequest:
    """A request the proxy answers itself, as both engines describe it.

    ``raw_target`` is the request target as received; ``path`` the normalised
    path (:func:`~authgate.core.paths.normalize_path`) and ``query`` the raw
    query without ``?``.  ``headers`` are the client's fields in order,
    latin-1 decoded; ``host`` is the validated ``Host`` value (``""`` when
    absent on HTTP/1.0); ``scheme`` is ``http`` or ``https`` as the client
    connected; ``peer`` the client's address.  ``body`` holds at most the
    endpoint's ``max_body_bytes`` (a longer body is refused with 413 before
    the handler runs).  ``principal`` is set when the endpoint asked for the
    Gate to authenticate the request first.
    """

    method: str
    raw_target: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    peer: str
    scheme: str
    host: str
    body: bytes = b""
    principal: Principal | None = None

    @classmethod
    def from_head(
        cls,
        method: str,
        target: str,
        raw_headers: Sequence[tuple[bytes, bytes]],
        *,
        peer: str,
        scheme: str,
    ) -> EdgeRequest:
        """The request head as both engines received it (raw target and raw fields),
        described once: the path normalised, the fields latin-1 decoded, ``host`` the
        first ``Host`` value (the Gate has already refused two or an invalid one)."""
        raw_path, _, query = target.partition("?")
        try:
            path = normalize_path(raw_path)
        except InvalidRequest:
            path = raw_path  # the router matched it, so it is normal; defensive only
        headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw_headers)
        host = next((v for n, v in headers if n.lower() == "host"), "")
        return cls(method, target, path, query, headers, peer, scheme, host)

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or ``None``."""
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


@dataclass(frozen=True, slots=True)
class EdgeResponse:
    """A complete answer: status, header fields, body.

    Engines add framing themselves (``Content-Length``, ``Connection``) and
    omit the body for ``HEAD``; ``headers`` must not contain framing fields.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    #: Close the connection after this answer (e.g. after a parse error).
    close: bool = False

    @classmethod
    def json(
        cls,
        status: int,
        document: Any,
        headers: Sequence[tuple[str, str]] = (),
        *,
        close: bool = False,
    ) -> EdgeResponse:
        """A compact JSON answer (``application/json``) with ``headers`` added."""
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, (_JSON, *headers), body, close)

    def with_headers(self, headers: Sequence[tuple[str, str]]) -> EdgeResponse:
        """This answer with ``headers`` appended (e.g. a credential's ``Set-Cookie``)."""
        if not headers:
            return self
        return EdgeResponse(self.status, (*self.headers, *headers), self.body, self.close)


_NO_STORE = ("Cache-Control", "no-store")


def error_answer(error: AuthError | GatewayError, *, close: bool = False) -> EdgeResponse:
    """The answer for one of our typed errors, identical on both engines."""
    headers: list[tuple[str, str]] = [_NO_STORE]
    if isinstance(error, AuthError):
        challenge = error.www_authenticate(REALM)
        if challenge is not None:
            headers.append(("WWW-Authenticate", challenge))
    elif error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    return EdgeResponse.json(error.status, error.body(), headers, close=close)
