"""Token exchange (RFC 8693): trade a workload's token for a narrower platform token.

A workload often already holds a token: a user's token handed to a service, a
token for a token service, a CI system's OIDC token.  Instead of sending that
broad token to the platform, the client asks the IdP's token endpoint for a new
one (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``, §2.1) with
the workload's token as ``subject_token`` and, optionally, a narrower
``audience`` and ``scope``.  This module is that request and its settings; the
feature's other concerns have their own modules, each changing for its own
reasons:

* **Subject** (:mod:`authgate.client.exchange_subject`): a file (re-read when it
  changes) or a token given directly, told apart without ever echoing a token.
* **Who asks** (here): a confidential client (``AUTHGATE_CLIENT_ID`` /
  ``AUTHGATE_CLIENT_SECRET``, sent with HTTP Basic as for client credentials),
  else the platform's public client from discovery (many IdPs, Keycloak among
  them, only let confidential clients exchange; the error then says so).
* **Renewal** (:mod:`authgate.client.exchanger` for the SDK,
  :mod:`authgate.client.exchange_login` for the CLI's stored login): the
  exchanged token is exchanged again when less than the margin is left (capped
  at half its lifetime, as for every login) and whenever the subject file holds
  a new token, so a rotated subject is picked up at once.
* **Errors** (:mod:`authgate.client.exchange_refusal`): an unusable subject is
  :class:`CredentialSourceError` (exit 12); an IdP that refuses the exchange is
  :class:`ExchangeRejected` (exit 7); an IdP that does not implement the grant,
  or not for this client, is :class:`ExchangeUnsupported` (exit 13).  Messages
  carry OAuth error codes, the IdP's description and file paths, never a token.

The refusals and :func:`exchange_source` are re-exported here, so callers of the
feature need one import.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from authgate.client.client_credentials import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    basic_auth,
    default_scope,
    env_secret,
)
from authgate.client.discovery import Discovery, unavailable_idp
from authgate.client.errors import UsageError
from authgate.client.exchange_refusal import ExchangeRejected, ExchangeUnsupported, refusal
from authgate.client.exchange_subject import Subject, exchange_source
from authgate.client.oauth import OAuthError, token_request
from authgate.client.scopes import requested_scopes
from authgate.client.tokens import TokenSet
from authgate.client.transport import origin

__all__ = [
    "GRANT_TYPE",
    "TOKEN_TYPES",
    "ExchangeArgs",
    "ExchangeRejected",
    "ExchangeSettings",
    "ExchangeUnsupported",
    "Subject",
    "exchange",
    "exchange_args",
    "exchange_source",
]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPES = {
    "access_token": "urn:ietf:params:oauth:token-type:access_token",
    "jwt": "urn:ietf:params:oauth:token-type:jwt",
    "id_token": "urn:ietf:params:oauth:token-type:id_token",
}


@dataclass(frozen=True)
class ExchangeSettings:
    """What to ask for, and as whom."""

    client_id: str | None = None
    client_secret: str | None = None
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    subject_token_type: str = TOKEN_TYPES["access_token"]

    @classmethod
    def create(
        cls,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        audience: str | None = None,
        scopes: str | Iterable[str] | None = None,
        subject_token_type: str | None = None,
    ) -> ExchangeSettings:
        """Settings with ``AUTHGATE_CLIENT_ID`` / ``AUTHGATE_CLIENT_SECRET`` as defaults."""
        kind = subject_token_type or "access_token"
        if kind not in TOKEN_TYPES and not kind.startswith("urn:"):
            raise UsageError(
                f"unknown subject token type {kind!r}",
                hint="use " + ", ".join(TOKEN_TYPES) + " or a token type URN",
            )
        chosen_id = client_id or os.environ.get(CLIENT_ID_ENV, "").strip() or None
        secret = client_secret if client_secret is not None else env_secret()
        if secret and not chosen_id:
            raise UsageError(
                "a client secret is set but no client id",
                hint=f"set {CLIENT_ID_ENV} or pass client_id=",
            )
        listed = scopes.split() if isinstance(scopes, str) else list(scopes or ())
        return cls(
            chosen_id, secret or None, audience or None, tuple(listed), TOKEN_TYPES.get(kind, kind)
        )


ExchangeArgs = tuple[str | os.PathLike[str], ExchangeSettings]


def exchange_args(
    exchange_from: str | os.PathLike[str] | None,
    audience: str | None,
    scope: str | Iterable[str] | None,
    client_id: str | None,
    client_secret: str | None,
    subject_token_type: str | None,
) -> ExchangeArgs | None:
    """``Client(exchange_from=...)`` and its companions (which mean nothing without it)."""
    if exchange_from is None:
        if audience or scope or client_id or client_secret or subject_token_type:
            raise UsageError(
                "exchange_audience=, exchange_scope=, client_id=, client_secret= "
                "and subject_token_type= need exchange_from="
            )
        return None
    return exchange_from, ExchangeSettings.create(
        client_id=client_id,
        client_secret=client_secret,
        audience=audience,
        scopes=scope,
        subject_token_type=subject_token_type,
    )


def exchange(
    http: httpx.Client,
    discovery: Discovery,
    subject: str,
    settings: ExchangeSettings,
    *,
    base_url: str,
    where: str,
) -> TokenSet:
    """One exchange at the IdP's token endpoint; the new token set (grant ``token_exchange``)."""
    endpoint = discovery.token_endpoint
    if not endpoint:
        raise unavailable_idp(base_url, discovery)
    client_id = settings.client_id or discovery.client_id
    if not client_id:
        raise UsageError(
            "no client to exchange the token as",
            hint=f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (a confidential "
            "client allowed to exchange tokens)",
        )
    form = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject,
        "subject_token_type": settings.subject_token_type,
        "requested_token_type": TOKEN_TYPES["access_token"],
        **discovery.token_request_params,
    }
    if settings.audience:
        form["audience"] = settings.audience
    scope = requested_scopes(
        default_scope(discovery.default_scopes), settings.scopes, discovery.scope_prefix
    )
    if scope:
        form["scope"] = scope
    headers: dict[str, str] = {}
    if settings.client_secret:
        headers["Authorization"] = basic_auth(client_id, settings.client_secret)
    else:
        form["client_id"] = client_id
    try:
        body: dict[str, Any] = token_request(http, endpoint, form, headers=headers)
    except OAuthError as exc:
        raise refusal(
            exc,
            client_id,
            confidential=bool(settings.client_secret),
            idp=origin(endpoint),
            where=where,
        ) from None
    tokens = TokenSet.from_response(body, grant="token_exchange", requested_scope=scope)
    # RFC 8693 §2.2.1: a refresh token is optional; without one the login is renewed by
    # exchanging again (the subject is the credential), so none is kept.
    return replace(
        tokens,
        refresh_token=None,
        id_token=None,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        audience=settings.audience,
    )
