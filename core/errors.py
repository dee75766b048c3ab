"""authgate's own exception types.

Two families live here:

* :class:`AuthError` and its subclasses are *answers*: each carries the HTTP
  status, the RFC 6750 §3.1 error code, a machine-readable ``reason`` and a
  human description, so the HTTP layer (aiohttp or the lean path) can render a
  response without knowing why the request failed.  None of them ever carries
  the bearer token: descriptions are written by us, never formatted from input.
* :class:`ConfigError` collects *every* problem of a configuration document so
  an operator fixes them all in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AuthError",
    "ConfigError",
    "Forbidden",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "MissingToken",
]


def _quote(value: str) -> str:
    """An RFC 9110 §5.6.4 quoted-string: escape ``\\`` and ``"``, drop controls."""
    cleaned = "".join(ch for ch in value if ch == "\t" or (" " <= ch <= "~"))
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AuthError(Exception):
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

    def body(self) -> dict[str, str]:
        """The short JSON body: ``{"error", "reason", "description"}``."""
        return {
            "error": self.error or "unauthorized",
            "reason": self.reason,
            "description": self.description,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, reason={self.reason!r})"


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


class ConfigError(Exception):
    """Every problem found in a configuration document, each ``"<path>: <message>"``."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"invalid configuration ({count} error{'s' if count != 1 else ''})"
        return head + "".join(f"\n  - {err}" for err in self.errors)
