"""Non-interactive login with the Resource Owner Password Credentials grant.

RFC 6749 §4.3; for CI jobs and service users. The grant sends the password to
the IdP directly, so it skips any second factor the IdP would ask for in a
browser: the CLI says so every time. The password comes from ``--password``,
``AUTHGATE_PASSWORD``, ``--password-stdin`` or a hidden prompt — the last two
keep it out of shell history and ``ps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from authgate.client.errors import LoginRejected
from authgate.client.oauth import OAuthError, rejected, token_request

MFA_WARNING = (
    "the password grant bypasses multi-factor authentication; use it only for "
    "CI and service users; people should log in without --username"
)


def password_login(
    http: httpx.Client,
    token_endpoint: str,
    client_id: str,
    *,
    username: str,
    password: str,
    scope: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    form = {
        "grant_type": "password",
        "client_id": client_id,
        "username": username,
        "password": password,
        **(extra or {}),
    }
    if scope:
        form["scope"] = scope
    try:
        body: dict[str, Any] = token_request(http, token_endpoint, form)
        return body
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise LoginRejected(
                f"wrong username or password for {username!r} ({exc.detail()})", error=exc.error
            ) from None
        if exc.error in ("unauthorized_client", "unsupported_grant_type"):
            raise rejected(
                exc,
                hint="this platform's client does not allow the password "
                "grant; log in without --username",
            ) from None
        raise rejected(exc) from None
