"""The identity-provider side of the config model: which IdP, how its tokens
are checked, how its keys are fetched.

:class:`OIDCConfig`, :class:`TokenConfig` and :class:`KeyConfig` with the
constants they use (:data:`ASYMMETRIC_ALGORITHMS`, :data:`OIDC_SCOPES`).
Dataclasses only, like :mod:`.model` (which imports this module and re-exports
these names); import them from :mod:`authgate.core.config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import setting as _doc  # a field with its documentation and bounds

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "OIDC_SCOPES",
    "KeyConfig",
    "OIDCConfig",
    "TokenConfig",
]


#: Signature algorithms the verifier can use with public keys (RFC 7518 §3.1, RFC 8037).
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

#: Scopes every OIDC token may carry; a token with only these skips the scope check.
OIDC_SCOPES: frozenset[str] = frozenset({"openid", "profile", "email", "offline_access"})


@dataclass(frozen=True, slots=True)
class OIDCConfig:
    """The identity provider whose tokens are accepted."""

    issuer: str = _doc("", "issuer URL; must equal the token's `iss` exactly")
    additional_issuers: tuple[str, ...] = _doc((), "more accepted `iss` values, each discovered")
    client_id: str = _doc("", "public client the CLI uses; published in discovery")
    audience: tuple[str, ...] = _doc((), "accepted `aud` values; empty means [client_id]")
    jwks_uri: str | None = _doc(None, "JWKS URL override; otherwise from OIDC discovery")
    token_endpoint: str | None = _doc(None, "override for the discovery document")
    device_authorization_endpoint: str | None = _doc(None, "override for the discovery document")
    authorization_endpoint: str | None = _doc(None, "override for the discovery document")
    default_scopes: str = _doc(
        "platform:read platform:write openid profile email offline_access",
        "space-separated scopes the CLI requests by default; published in discovery",
    )
    scope_prefix: str = _doc("", "prefix stripped from token scopes, e.g. api://nmp/ (Entra ID)")
    request_resource: str | None = _doc(
        None,
        "RFC 8707 `resource` the CLI sends with every token request (IdPs that issue opaque "
        "tokens unless a resource is named, e.g. oidc-provider); published in discovery",
    )
    request_audience: str | None = _doc(
        None,
        "`audience` the CLI sends with every token request (Auth0 issues opaque tokens "
        "without it); published in discovery",
    )

    @property
    def effective_audience(self) -> tuple[str, ...]:
        """The accepted ``aud`` values: ``audience``, or ``(client_id,)`` when empty."""
        if self.audience:
            return self.audience
        return (self.client_id,) if self.client_id else ()

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every accepted issuer, the primary first, without duplicates."""
        seen: dict[str, None] = {}
        for iss in (self.issuer, *self.additional_issuers):
            if iss:
                seen.setdefault(iss, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """How bearer tokens are checked."""

    algorithms: tuple[str, ...] = _doc(ASYMMETRIC_ALGORITHMS, "allowed `alg` values; asymmetric")
    leeway_seconds: float = _doc(
        60.0, "clock skew allowed on exp / nbf / iat", minimum=0, maximum=600
    )
    max_token_bytes: int = _doc(
        16384, "longer bearer tokens are rejected before parsing", minimum=512, maximum=1 << 20
    )
    subject_claim: str = _doc("sub", "claim holding the principal id")
    email_claim: str = _doc("email", "claim holding the email address")
    groups_claim: str = _doc("groups", "claim holding the group list")
    cache_size: int = _doc(
        10000,
        "verified-token cache entries (each also bounded by its exp)",
        minimum=0,
        maximum=1_000_000,
    )
    cache_max_bytes: int = _doc(
        4 << 20,
        "memory budget of the verified-token cache in bytes (estimated per entry; "
        "oldest entries go first); see docs/performance.md",
        minimum=0,
        maximum=1 << 30,
    )


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """How the JWKS is fetched and cached."""

    refresh_interval_seconds: float = _doc(
        300.0, "background JWKS refresh period", minimum=1, maximum=86400
    )
    refresh_jitter: float = _doc(
        0.1, "random fraction of the interval added or removed (0..1)", minimum=0, maximum=0.99
    )
    unknown_kid_cooldown_seconds: float = _doc(
        30.0, "at most one refetch per cooldown for new kids", minimum=0, maximum=3600
    )
    stale_max_age_seconds: float = _doc(
        3600.0,
        "serve last good keys this long when the IdP fails",
        minimum=0,
        maximum=604800,
    )
    fetch_timeout_seconds: float = _doc(
        5.0, "timeout of each discovery / JWKS request", minimum=0.1, maximum=60
    )
    ca_file: str | None = _doc(None, "extra CA bundle (PEM) for talking to the IdP")
