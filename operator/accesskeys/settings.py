"""Operator-wide access-key settings (the per-provider rules are in ``spec.accessKeys``)."""

from __future__ import annotations

from dataclasses import dataclass

from authgate.core.contracts import ACCESS_KEY_ISSUER_PATH, ACCESS_KEYS_API_PATH

__all__ = ["API_PATH", "ISSUER_PATH", "AccessKeySettings"]

#: The API (authenticated with the caller's own bearer token).
API_PATH = ACCESS_KEYS_API_PATH
#: ``{public_url}/apis/auth/v2/issuers/<namespace>/<provider>`` is a provider's access-key
#: issuer: ``/.well-known/openid-configuration``, ``/jwks`` and ``/revocations`` under it.
ISSUER_PATH = ACCESS_KEY_ISSUER_PATH


@dataclass(frozen=True, slots=True)
class AccessKeySettings:
    """How the operator runs the access-key issuer."""

    #: Base URL sidecars reach this operator at (the issuer URL is derived from it);
    #: None: ``http://<discovery address>:<port>`` (loopback when bound to 0.0.0.0).
    public_url: str | None = None
    #: A signing key signs new keys this long before a successor takes over.
    rotation_seconds: float = 30 * 86400.0
    #: A successor is published this long before it signs anything (longer than a
    #: sidecar's revocation poll, which is what tells it to refresh the JWKS).
    prepublish_seconds: float = 300.0
    #: Re-list of AccessKeys / providers / signing keys by every replica.
    refresh_seconds: float = 2.0
    #: Phase updates and garbage collection of expired and revoked keys.
    gc_interval_seconds: float = 30.0
