"""Token sets and their claims, as the client sees them.

The client never verifies a token's signature: the platform does that. It only
reads claims (without verification) to show who is logged in, to detect a
clock far off, and to decode tokens for ``authgate token --decode``.

Expiry is computed from the token response's ``expires_in`` (RFC 6749 §5.1)
against the *local* clock, never from ``exp``, so a machine whose clock is off
still refreshes at the right moment.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class TokenSet:
    """What a login or refresh produced, plus how to renew it."""

    access_token: str
    expires_at: float | None = None  # local epoch seconds
    refresh_token: str | None = None
    id_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 (a type name)
    scope: str | None = None
    # device | password | client_credentials | token_exchange | unsigned | static
    grant: str = "device"
    email: str | None = None  # quickstart: re-minted from this on refresh
    obtained_at: float | None = None
    # client_credentials: re-requested with these (RFC 6749 §4.4 issues no refresh token)
    client_id: str | None = None
    client_secret: str | None = None
    # token_exchange (RFC 8693): exchanged again from this file, for this audience
    subject_file: str | None = None
    audience: str | None = None

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)

    def expires_within(self, margin: float, now: float | None = None) -> bool:
        """Under ``margin`` seconds left, where the margin is capped at half the lifetime.

        The cap matters for short-lived tokens: Keycloak issues 5-minute access
        tokens by default, and a flat 5-minute margin would renew on every call.
        """
        left = self.seconds_left(now)
        if left is None:
            return False
        if self.expires_at is not None and self.obtained_at is not None:
            margin = min(margin, (self.expires_at - self.obtained_at) / 2)
        return left < margin

    def with_refresh(self, new: TokenSet) -> TokenSet:
        """Merge a refresh response: keep the old refresh token unless rotated (RFC 6749 §6)."""
        return replace(
            new,
            refresh_token=new.refresh_token or self.refresh_token,
            id_token=new.id_token or self.id_token,
            grant=self.grant,
            email=self.email,
            client_id=self.client_id,
            client_secret=self.client_secret,
            subject_file=self.subject_file,
            audience=self.audience,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "grant": self.grant,
        }
        for key in (
            "expires_at",
            "refresh_token",
            "id_token",
            "scope",
            "email",
            "obtained_at",
            "client_id",
            "client_secret",
            "subject_file",
            "audience",
        ):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("access_token: missing")
        expires_at = data.get("expires_at")
        obtained_at = data.get("obtained_at")
        return cls(
            access_token=access,
            expires_at=float(expires_at) if expires_at is not None else None,
            refresh_token=_opt_str(data.get("refresh_token")),
            id_token=_opt_str(data.get("id_token")),
            token_type=str(data.get("token_type") or "Bearer"),
            scope=_opt_str(data.get("scope")),
            grant=str(data.get("grant") or "device"),
            email=_opt_str(data.get("email")),
            obtained_at=float(obtained_at) if obtained_at is not None else None,
            client_id=_opt_str(data.get("client_id")),
            client_secret=_opt_str(data.get("client_secret")),
            subject_file=_opt_str(data.get("subject_file")),
            audience=_opt_str(data.get("audience")),
        )

    @classmethod
    def from_response(
        cls,
        body: dict[str, Any],
        *,
        grant: str,
        now: float | None = None,
        requested_scope: str = "",
    ) -> TokenSet:
        """Build from a successful token response (RFC 6749 §5.1).

        ``requested_scope`` is kept when the response names no scope, which §5.1 allows
        when it is the one requested: a grant that is asked again instead of refreshed
        (client credentials, token exchange) asks again for it."""
        now = time.time() if now is None else now
        expires_in = body.get("expires_in")
        expires_at: float | None = None
        if isinstance(expires_in, int | float) or (
            isinstance(expires_in, str) and expires_in.isdigit()
        ):
            expires_at = now + float(expires_in)
        else:
            exp = claims(str(body["access_token"])).get("exp")
            if isinstance(exp, int | float):
                expires_at = float(exp)
        return cls(
            access_token=str(body["access_token"]),
            expires_at=expires_at,
            refresh_token=_opt_str(body.get("refresh_token")),
            id_token=_opt_str(body.get("id_token")),
            token_type=str(body.get("token_type") or "Bearer"),
            scope=_opt_str(body.get("scope")) or requested_scope or None,
            grant=grant,
            obtained_at=now,
        )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return {}
    return value if isinstance(value, dict) else {}


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; ``{}`` for an opaque or malformed token."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    return _b64url_json(parts[1])


def header(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT, unverified."""
    parts = token.split(".")
    return _b64url_json(parts[0]) if len(parts) == 3 else {}


def identity(token: TokenSet) -> str | None:
    """A human name for who the token belongs to: email, else preferred_username, else sub
    (a person is known by their email, not by an IdP's opaque ``sub``)."""
    for source in (token.id_token, token.access_token):
        if not source:
            continue
        found = claims(source)
        for key in ("email", "preferred_username", "sub"):
            value = found.get(key)
            if isinstance(value, str) and value:
                return value
    return token.email
