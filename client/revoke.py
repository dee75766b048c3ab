"""``authgate logout`` revokes the refresh token at the IdP (RFC 7009).

Deleting the token locally is not a logout: a copied refresh token would stay
valid at the IdP for days.  So logout first asks the IdP to revoke it, at the
``revocation_endpoint`` the platform's discovery document publishes (taken
from the IdP's own metadata, RFC 8414 §2), then forgets the tokens whatever
the answer — a logout must never fail to remove local credentials.  The
outcome is reported in one line; a public client identifies itself with
``client_id`` (RFC 7009 §2.1), a confidential one with its secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from authgate.client.client_credentials import basic_auth
from authgate.client.discovery import fetch_discovery
from authgate.client.errors import ClientError
from authgate.client.store import Cluster
from authgate.client.tokens import TokenSet
from authgate.client.transport import origin, sync_client, unreachable


@dataclass(frozen=True)
class Revocation:
    revoked: bool
    message: str


def revoke(cluster: Cluster, tokens: TokenSet) -> Revocation:
    """Revoke the login's refresh token (or, for client credentials, its access token)."""
    token, hint = (
        (tokens.refresh_token, "refresh_token")
        if tokens.refresh_token
        else (tokens.access_token, "access_token")
    )
    what = "refresh token" if hint == "refresh_token" else "access token"
    if tokens.grant in ("unsigned", "static"):
        return Revocation(False, "")
    try:
        with sync_client(cluster.ca_file) as http:
            discovery = fetch_discovery(http, cluster.base_url)
            endpoint = discovery.revocation_endpoint
            if not endpoint:
                return Revocation(
                    False,
                    f"The identity provider publishes no revocation "
                    f"endpoint: the {what} stays valid there until it "
                    "expires.",
                )
            form = {"token": token, "token_type_hint": hint}
            headers = {}
            confidential = tokens.grant in ("client_credentials", "token_exchange")
            if confidential and tokens.client_id and tokens.client_secret:
                headers["Authorization"] = basic_auth(tokens.client_id, tokens.client_secret)
            elif discovery.client_id:
                form["client_id"] = discovery.client_id
            try:
                response = http.post(endpoint, data=form, headers=headers)
            except httpx.HTTPError as exc:
                raise unreachable("the identity provider", endpoint, exc) from None
    except ClientError as exc:
        return Revocation(
            False,
            f"Could not revoke the {what} ({exc.message}); it may stay "
            "valid at the identity provider until it expires.",
        )
    if response.status_code != 200:  # RFC 7009 §2.2: 200, also for an unknown token
        detail = _error_of(response)
        return Revocation(
            False,
            f"The identity provider refused to revoke the {what} "
            f"(HTTP {response.status_code}{detail}); it may stay valid "
            "there until it expires.",
        )
    return Revocation(True, f"Revoked the {what} at the identity provider ({origin(endpoint)}).")


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f", {error}" if isinstance(error, str) else ""
