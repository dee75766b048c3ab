"""Why an IdP refused a token exchange, as a named error (RFC 8693 §2.2.2, RFC 6749 §5.2).

Kept apart from the grant request (:mod:`authgate.client.exchange`) because this
is a table of the IdPs' answers, not protocol: it grows with each IdP and
answer we meet, and each entry decides which exit code and hint the user gets.
An IdP that does not implement the grant, or not for this client, is
:class:`ExchangeUnsupported` (exit 13: use another login method); any other
refusal is :class:`ExchangeRejected` (exit 7: fix the request).  Messages carry
OAuth error codes and the IdP's description, never a token.
"""

from __future__ import annotations

from authgate.client.client_credentials import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from authgate.client.errors import ExitCode, LoginRejected
from authgate.client.oauth import OAuthError


class ExchangeRejected(LoginRejected):
    """The IdP refused to exchange the subject token (RFC 8693 §2.2.2)."""


class ExchangeUnsupported(LoginRejected, exit_code=ExitCode.EXCHANGE_UNSUPPORTED):
    """The IdP does not offer token exchange, or not to this client."""


def refusal(
    exc: OAuthError, client_id: str, *, confidential: bool, idp: str, where: str
) -> LoginRejected:
    """Map the IdP's error answer to a named refusal.

    Keycloak's answers, measured: wrong secret ``401 unauthorized_client``; exchange
    off for the client (also every public client) ``invalid_request: Standard token
    exchange is not enabled ...``; an audience that is no client ``invalid_client:
    Audience not found``; a subject not naming the client ``403 access_denied``."""
    detail = exc.detail()
    text = (exc.description or "").lower()
    if exc.error == "unsupported_grant_type":
        return ExchangeUnsupported(
            f"the identity provider at {idp} does not support token exchange (RFC 8693) ({detail})",
            hint="use another login method, or enable token exchange at the identity provider",
            error=exc.error,
        )
    if "not enabled" in text or (exc.error == "unauthorized_client" and exc.status != 401):
        return ExchangeUnsupported(
            f"the identity provider at {idp} does not let client {client_id!r} exchange "
            f"tokens ({detail})",
            hint="use a confidential client with token exchange enabled at the identity "
            "provider (Keycloak: the client's 'Standard token exchange' switch), named "
            f"by {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}",
            error=exc.error,
        )
    if exc.error in ("invalid_scope", "invalid_target") or (
        "audience" in text and ("not found" in text or "not available" in text)
    ):
        what = "scope" if exc.error == "invalid_scope" else "audience"
        return ExchangeRejected(
            f"the identity provider at {idp} refused the requested {what} ({detail})",
            hint=f"ask for a {what} client {client_id!r} may request (Keycloak: an audience is "
            "a client id the client's own tokens already carry)",
            error=exc.error,
        )
    if exc.error in ("invalid_client", "unauthorized_client") or exc.status == 401:
        why = (
            "wrong, rotated or revoked secret"
            if confidential
            else "it is a public client; most identity providers let only confidential "
            "clients exchange tokens"
        )
        return ExchangeRejected(
            f"the identity provider at {idp} rejected client {client_id!r} for token "
            f"exchange: {why} ({detail})",
            hint=f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} to a confidential client "
            "allowed to exchange tokens",
            error=exc.error,
        )
    return ExchangeRejected(
        f"the identity provider at {idp} refused to exchange the subject token from "
        f"{where} ({detail})",
        hint="the subject token may be expired, from another issuer, or not meant for "
        f"client {client_id!r} (its audience must name that client)",
        error=exc.error,
    )
