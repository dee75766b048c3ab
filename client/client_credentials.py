"""Logins without a person: the client credentials grant (RFC 6749 §4.4).

A CI pipeline or a service holds a confidential client's id and secret. The
CLI sends them with HTTP Basic authentication (``client_secret_basic``, which
every authorization server must support, RFC 6749 §2.3.1; both parts are
form-urlencoded first, as that section requires) and gets an access token
without a refresh token (§4.4.3). So the login is renewed by asking again:
the secret is stored with the login (the config file is ``0600``, as for
refresh tokens), and ``AUTHGATE_CLIENT_SECRET``, when set, wins over the
stored one, so a rotated secret needs no new login.

The secret is read from ``--client-secret-stdin`` or ``AUTHGATE_CLIENT_SECRET``
only, never from a flag, so it stays out of shell history and ``ps``.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from authgate.client.errors import LoginRejected, UsageError
from authgate.client.oauth import OAuthError, rejected, token_request
from authgate.client.tokens import TokenSet

CLIENT_ID_ENV = "AUTHGATE_CLIENT_ID"
CLIENT_SECRET_ENV = "AUTHGATE_CLIENT_SECRET"  # noqa: S105 - a variable name
#: Scopes that mean nothing without a user, dropped from the default request.
USER_ONLY_SCOPES = frozenset({"offline_access"})


def env_secret() -> str | None:
    """``AUTHGATE_CLIENT_SECRET``, or None when unset; an empty value is an error."""
    value = os.environ.get(CLIENT_SECRET_ENV)
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise UsageError(
            f"{CLIENT_SECRET_ENV} is set but empty",
            hint="unset it, or set it to the client's secret",
        )
    return value


def read_client_secret(from_stdin: bool) -> str | None:
    """The secret from one line of stdin (``--client-secret-stdin``), else
    :func:`env_secret`: the only two places a secret may come from."""
    if not from_stdin:
        return env_secret()
    secret = sys.stdin.readline().strip()
    if not secret:
        raise UsageError("--client-secret-stdin given but stdin was empty")
    return secret


def basic_auth(client_id: str, secret: str) -> str:
    """HTTP Basic client authentication (RFC 6749 §2.3.1: both parts form-urlencoded)."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def client_credentials_login(
    http: httpx.Client,
    token_endpoint: str,
    *,
    client_id: str,
    client_secret: str,
    scope: str,
    extra: Mapping[str, str] | None = None,
    stored_secret: str | None,
) -> TokenSet:
    """One client-credentials token request, as a token set that can ask again.

    The login and its renewals both come here, so what a renewal needs is kept in
    one place: the client id, ``stored_secret`` (the secret the login keeps, which
    is not ``client_secret`` when ``AUTHGATE_CLIENT_SECRET`` overrides it) and the
    scope asked for when the IdP names none.  LoginRejected with a clear reason on
    refusal."""
    form = {"grant_type": "client_credentials", **(extra or {})}
    if scope:
        form["scope"] = scope
    try:
        auth = {"Authorization": basic_auth(client_id, client_secret)}
        body: dict[str, Any] = token_request(http, token_endpoint, form, headers=auth)
    except OAuthError as exc:
        if exc.error in ("invalid_client", "unauthorized_client") or exc.status == 401:
            raise LoginRejected(
                f"the identity provider rejected client {client_id!r}: wrong, rotated or "
                f"revoked secret, or not a confidential client ({exc.detail()})",
                hint=f"check the secret ({CLIENT_SECRET_ENV} or --client-secret-stdin) and that "
                "the client has service accounts / client credentials enabled",
                error=exc.error,
            ) from None
        raise rejected(exc) from None
    tokens = TokenSet.from_response(body, grant="client_credentials", requested_scope=scope)
    return replace(tokens, client_id=client_id, client_secret=stored_secret)


def default_scope(scope: str) -> str:
    """The discovery default scopes minus the ones that need a user (``offline_access``)."""
    return " ".join(s for s in scope.split() if s not in USER_ONLY_SCOPES)
