"""Pluggable credential sources: where the Gate finds a principal besides
``Authorization: Bearer``.

The bearer header stays the primary credential (RFC 6750 §2.1) and, when it
is present, the only one consulted: a request carries one authentication
method (RFC 6750 §2), so a bad bearer token is never rescued by a cookie.
Without it, the Gate asks each registered :class:`CredentialSource` in order
and uses the first :class:`Credential` returned.  A browser session cookie is
one such source; it may also hand back response headers (``Set-Cookie`` after
a silent session refresh) that the engines add to the upstream's answer, and
a rewrite of the upstream header list (e.g. to drop its own cookie).

A source raises an :class:`~authgate.core.errors.AuthError` to refuse (an
expired, tampered or revoked session), returns ``None`` when the request
simply does not carry its kind of credential, and must never put a secret
into an error description.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .principal import Principal

if TYPE_CHECKING:  # pragma: no cover
    from .config import ProxyConfig
    from .verify import TokenVerifier

__all__ = [
    "Credential",
    "CredentialRequest",
    "CredentialSource",
    "CredentialSourceFactory",
    "HeaderRewrite",
]

#: Applied to the filtered upstream header list before identity injection.
HeaderRewrite = Callable[[list[tuple[str, str]]], list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """What a source may look at: the request as the Gate saw it.

    ``headers`` are the client's raw headers (latin-1 decoded), so a cookie
    source can read ``Cookie``; ``path`` is the normalised path.
    """

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Credential:
    """A verified principal, plus what the engines must do besides forwarding."""

    principal: Principal
    #: Added to the upstream's response (e.g. ``Set-Cookie`` of a refreshed session).
    response_headers: tuple[tuple[str, str], ...] = ()
    #: Applied to the upstream request headers (e.g. remove the session cookie).
    rewrite: HeaderRewrite | None = None


class CredentialSource(Protocol):
    """One way of authenticating a request that has no ``Authorization`` header."""

    #: Short stable name for logs and metrics, e.g. ``"session_cookie"``.
    name: str

    async def authenticate(self, request: CredentialRequest) -> Credential | None:
        """The credential in ``request``, ``None`` when absent; raise AuthError to refuse."""
        ...


#: Builds a source for one compiled Gate (``None`` when the config disables it).
#: It receives the Gate's verifier so a source that holds a JWT (a session
#: holding an access token) verifies it exactly as a bearer token is verified.
CredentialSourceFactory = Callable[["ProxyConfig", "TokenVerifier"], "CredentialSource | None"]
