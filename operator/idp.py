"""Checking an IdP from the operator: OIDC discovery and the JWKS, with a reason.

The operator asks the same questions as the proxy will (the core's
:func:`~authgate.core.oidc.fetch_provider_metadata` and
:func:`~authgate.core.oidc.parse_jwks`, OpenID Connect Discovery 1.0 §4 and
RFC 7517), through the core's document fetcher (:mod:`authgate.core.idpfetch`,
the proxy's too) trusting the provider's CA bundle.  Every failure becomes an
:class:`IdPCheckFailed` with a CamelCase ``reason`` for the status condition and a
message a person can act on:

``IssuerUnreachable``  network error, TLS error or timeout on the discovery document
``DiscoveryFailed``    discovery answered non-200, non-JSON, or without ``jwks_uri``
``IssuerMismatch``     the discovery document names another issuer (§4.3)
``JWKSUnreachable``    the JWKS could not be fetched
``JWKSInvalid``        the JWKS is not a JWK Set
``NoSigningKeys``      the JWKS holds no key the proxy could verify a token with
``InvalidCABundle``    the CA bundle is not PEM the TLS stack can load
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.core.errors import ReasonedError
from authgate.core.idpfetch import DocumentFetcher, FetchPolicy
from authgate.core.oidc import (
    DiscoveryError,
    FetchError,
    FetchResult,
    ProviderMetadata,
    describe_skipped,
    fetch_provider_metadata,
    parse_jwks,
    well_known_url,
)

__all__ = ["IdPCheck", "IdPCheckFailed", "IdPFetcher", "check_idp", "endpoints_of"]


class IdPCheckFailed(ReasonedError):
    """The IdP cannot be used; ``reason`` is the status condition's reason."""


@dataclass(frozen=True, slots=True)
class IdPCheck:
    """A successful check: the (primary issuer's) metadata and the usable key count."""

    metadata: ProviderMetadata
    signing_keys: int


class IdPFetcher(DocumentFetcher):
    """The core's :class:`~authgate.core.idpfetch.DocumentFetcher` (the one
    fetch policy the proxy uses too: no redirects, bounded body, one timeout for
    the whole request) trusting the provider's CA bundle."""

    def __init__(self, timeout_seconds: float, ca_pem: str | None = None) -> None:
        policy = FetchPolicy(
            timeout_seconds=timeout_seconds, ca_pem=ca_pem or None, user_agent="authgate-operator"
        )
        try:
            super().__init__(policy)
        except (ssl.SSLError, ValueError, OSError) as exc:
            message = f"the CA bundle cannot be loaded: {exc}"
            raise IdPCheckFailed("InvalidCABundle", message) from None


async def _discover(issuer: str, fetch: IdPFetcher) -> ProviderMetadata:
    seen: dict[str, bytes] = {}

    async def recording(url: str) -> FetchResult:
        result = await fetch(url)
        seen[url] = result.body
        return result

    try:
        return await fetch_provider_metadata(issuer, recording)
    except FetchError as exc:
        raise IdPCheckFailed("IssuerUnreachable", f"issuer {issuer}: {exc}") from None
    except DiscoveryError as exc:
        body = seen.get(well_known_url(issuer), b"")
        try:
            named = json.loads(body).get("issuer")
        except (ValueError, AttributeError, UnicodeDecodeError):
            named = None
        if named is not None and named != issuer:
            raise IdPCheckFailed("IssuerMismatch", str(exc)) from None
        raise IdPCheckFailed("DiscoveryFailed", f"issuer {issuer}: {exc}") from None


async def _count_keys(jwks_uri: str, fetch: IdPFetcher) -> int:
    try:
        result = await fetch(jwks_uri)
    except FetchError as exc:
        raise IdPCheckFailed("JWKSUnreachable", str(exc)) from None
    if result.status != 200:
        raise IdPCheckFailed("JWKSUnreachable", f"GET {jwks_uri} answered HTTP {result.status}")
    try:
        skipped: list[str] = []
        keys = parse_jwks(result.body, skipped)
    except DiscoveryError as exc:
        raise IdPCheckFailed("JWKSInvalid", f"{jwks_uri}: {exc}") from None
    if not keys:
        raise IdPCheckFailed(
            "NoSigningKeys",
            f"the JWKS at {jwks_uri} holds no usable signing key" + describe_skipped(skipped),
        )
    return len(keys)


async def check_idp(
    spec: Mapping[str, Any], ca_pem: str | None, timeout_seconds: float
) -> IdPCheck:
    """Discover every issuer of ``spec`` and count the usable keys of each JWKS.

    Raises :class:`IdPCheckFailed` for the first problem found.
    """
    issuer = str(spec.get("issuer", ""))
    extra = [str(i) for i in spec.get("additionalIssuers") or [] if i != issuer]
    async with IdPFetcher(timeout_seconds, ca_pem) as fetch:
        metadata = await _discover(issuer, fetch)
        override = spec.get("jwksUri")
        total = await _count_keys(str(override) if override else metadata.jwks_uri, fetch)
        for other in extra:
            other_meta = await _discover(other, fetch)
            total += await _count_keys(other_meta.jwks_uri, fetch)
    return IdPCheck(metadata=metadata, signing_keys=total)


def endpoints_of(spec: Mapping[str, Any], metadata: ProviderMetadata | None) -> dict[str, str]:
    """The endpoints the proxy and clients will use: spec overrides win over discovery."""
    found: dict[str, str | None] = {
        "issuer": metadata.issuer if metadata else spec.get("issuer"),
        "jwksUri": spec.get("jwksUri") or (metadata.jwks_uri if metadata else None),
        "tokenEndpoint": spec.get("tokenEndpoint")
        or (metadata.token_endpoint if metadata else None),
        "deviceAuthorizationEndpoint": spec.get("deviceAuthorizationEndpoint")
        or (metadata.device_authorization_endpoint if metadata else None),
        "authorizationEndpoint": spec.get("authorizationEndpoint")
        or (metadata.authorization_endpoint if metadata else None),
    }
    return {k: str(v) for k, v in found.items() if v}
