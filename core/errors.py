"""authgate's own exception types.

Three families live here:

* :class:`AuthError` and its subclasses are *answers*: each carries the HTTP
  status, the RFC 6750 §3.1 error code, a machine-readable ``reason`` and a
  human description, so the HTTP layer (aiohttp or the lean path) can render a
  response without knowing why the request failed.  None of them ever carries
  the bearer token: descriptions are written by us, never formatted from input.
* :class:`GatewayError` and its subclasses are the proxy's *own* failures
  (431 oversized head, 502/504 upstream trouble, 503 overload, 400 from the
  parser): the same body shape as an :class:`AuthError`, no challenge.  Both
  engines raise and render these, so their answers cannot drift apart.
* :class:`ReasonedError` is a failure on the way to an answer (a login that
  cannot complete, an IdP the operator cannot use): a stable ``reason`` code
  for a status condition, a log line or an error page, and our own message.
* :class:`ConfigError` collects *every* problem of a configuration document so
  an operator fixes them all in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "REALM",
    "AuthError",
    "BadGateway",
    "ConfigError",
    "Forbidden",
    "GatewayError",
    "GatewayTimeout",
    "HeadersTooLarge",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "MalformedRequest",
    "MissingToken",
    "Overloaded",
    "ReasonedError",
    "RequestTooLarge",
    "VersionNotSupported",
    "upstream_refused",
]

#: The protection space of every challenge we send (RFC 9110 §11.5, RFC 6750 §3).
REALM = "authgate"


def _quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string: escape ``\\`` and ``"``, drop controls."""
    cleaned = "".join(ch for ch in value if ch == "\t" or (" " <= ch <= "~"))
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Answer(Exception):
    """What an :class:`AuthError` and a :class:`GatewayError` share: both engines
    render either from ``status`` and :meth:`body`, so the body and the repr are
    written once here and the two families cannot drift apart."""

    status: int
    error: str | None
    reason: str
    description: str

    def body(self) -> dict[str, str]:
        """The short JSON body: ``{"error", "reason", "description"}``."""
        return {
            "error": self.error or "unauthorized",
            "reason": self.reason,
            "description": self.description,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, reason={self.reason!r})"


class AuthError(_Answer):
    """A request that must be answered with an error, not forwarded.

    ``status`` is the HTTP status, ``error`` the RFC 6750 error code (``None``
    when the request simply carried no credentials, §3.1), ``reason`` a stable
    machine-readable code for logs, metrics and the JSON body, ``description``
    a short sentence for humans, ``scope`` the scopes that would have been
    sufficient (for ``insufficient_scope``).
    """

    status: int = 401
    default_error: str | None = None
    default_reason: str = "unauthorized"

    def __init__(
        self,
        description: str,
        *,
        reason: str | None = None,
        scope: str | None = None,
        error: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason or self.default_reason
        self.scope = scope
        self.error = error if error is not None else self.default_error

    def www_authenticate(self, realm: str) -> str | None:
        """The ``WWW-Authenticate`` challenge (RFC 6750 §3), or ``None`` when
        the status is not 401/403 (a 400 carries no challenge)."""
        if self.status not in (401, 403):
            return None
        params = [f"realm={_quote(realm)}"]
        if self.error:
            params.append(f"error={_quote(self.error)}")
            params.append(f"error_description={_quote(self.description)}")
        if self.scope:
            params.append(f"scope={_quote(self.scope)}")
        return "Bearer " + ", ".join(params)


class MissingToken(AuthError):
    """No credentials at all: 401 with a bare challenge (RFC 6750 §3.1)."""

    status = 401
    default_error = None
    default_reason = "missing_token"

    def __init__(
        self, description: str = "a bearer token is required", *, reason: str | None = None
    ) -> None:
        super().__init__(description, reason=reason)


class InvalidToken(AuthError):
    """A token was presented but cannot be trusted: 401 ``invalid_token``."""

    status = 401
    default_error = "invalid_token"
    default_reason = "invalid_token"


class InsufficientScope(AuthError):
    """The token is valid but lacks the scopes this request needs: 403."""

    status = 403
    default_error = "insufficient_scope"
    default_reason = "insufficient_scope"


class Forbidden(AuthError):
    """The token is valid but the principal may not do this (e.g. group): 403."""

    status = 403
    default_error = "insufficient_scope"
    default_reason = "forbidden"


class InvalidRequest(AuthError):
    """The request itself is malformed or ambiguous: 400 ``invalid_request``."""

    status = 400
    default_error = "invalid_request"
    default_reason = "invalid_request"


class VersionNotSupported(InvalidRequest):
    """A request line naming HTTP/2 or later over HTTP/1.x framing: 505 (RFC 9110 §15.6.6)."""

    status = 505
    default_reason = "unsupported_version"

    def __init__(self, description: str = "only HTTP/1.0 and HTTP/1.1 are served") -> None:
        super().__init__(description, reason=self.default_reason)


class GatewayError(_Answer):
    """A failure of the proxy itself, answered without consulting the Gate.

    ``error`` is the body's error code, ``reason`` the stable code for logs,
    metrics and the body, ``description`` our fixed text (never request
    input), ``retry_after`` seconds for a ``Retry-After`` field, or ``None``.
    """

    status: int = 502
    error: str
    default_error: str = "bad_gateway"
    default_reason: str = "upstream_error"
    default_description: str = "the upstream closed or answered invalidly"
    retry_after: int | None = None

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = None,
        status: int | None = None,
    ) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)
        self.reason = reason or self.default_reason
        self.error = self.default_error
        if status is not None:
            self.status = status


class MalformedRequest(GatewayError):
    """The request is not valid HTTP/1.1 (RFC 9112): 400, the connection closes."""

    status = 400
    default_error = "invalid_request"
    default_reason = "malformed_request"
    default_description = "the request is not valid HTTP/1.1"


class RequestTooLarge(GatewayError):
    """A body over what the endpoint reads: 413 (RFC 9110 §15.5.14)."""

    status = 413
    default_error = "invalid_request"
    default_reason = "request_too_large"
    default_description = "the request is too large"


class HeadersTooLarge(GatewayError):
    """The request head exceeds ``limits.max_header_bytes``: 431 (RFC 6585 §5)."""

    status = 431
    default_error = "invalid_request"
    default_reason = "headers_too_large"
    default_description = "request header fields too large"


class BadGateway(GatewayError):
    """The upstream refused, closed, or answered invalidly: 502 (RFC 9110 §15.6.3).

    Its status, error, reason and description are :class:`GatewayError`'s own
    defaults (an unqualified gateway failure is a bad gateway), so they are not
    restated here."""


class Overloaded(GatewayError):
    """More than ``limits.max_in_flight`` requests: 503 with ``Retry-After``."""

    status = 503
    default_error = "unavailable"
    default_reason = "overloaded"
    default_description = "too many requests in flight"
    retry_after = 1


class GatewayTimeout(GatewayError):
    """No upstream response head within ``read_timeout_seconds``: 504."""

    status = 504
    default_error = "gateway_timeout"
    default_reason = "upstream_timeout"
    default_description = "the upstream did not answer in time"


def upstream_refused() -> BadGateway:
    """Connect refused or unreachable (the reason both engines log and count)."""
    return BadGateway("the upstream refused the connection", reason="upstream_unavailable")


class ReasonedError(Exception):
    """A failure with a stable ``reason`` code and a ``message`` written by us (never
    formatted from the peer's text).  The core's login flow and the operator's IdP
    check both raise these; they share this class so the pair is stored one way."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ConfigError(Exception):
    """Every problem found in a configuration document, each ``"<path>: <message>"``."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"invalid configuration ({count} error{'s' if count != 1 else ''})"
        return head + "".join(f"\n  - {err}" for err in self.errors)
