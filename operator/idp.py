"""Checking an IdP from the operator: OIDC discovery and the JWKS, with a reason.

The operator asks the same questions as the proxy will (the core's
:func:`~authgate.core.oidc.fetch_provider_metadata` and
:func:`~authgate.core.oidc.parse_jwks`, OpenID Connect Discovery 1.0 §4 and
RFC 7517), through an aiohttp fetcher of its own that trusts the provider's CA
bundle.  Every failure becomes an :class:`IdPCheckFailed` with a CamelCase
``reason`` for the status condition and a message a person can act on:

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

import aiohttp

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

_MAX_BODY = 1 << 20


class IdPCheckFailed(Exception):
    """The IdP cannot be used; ``reason`` is the status condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class IdPCheck:
    """A successful check: the (primary issuer's) metadata and the usable key count."""

    metadata: ProviderMetadata
    signing_keys: int


class IdPFetcher:
    """A :data:`authgate.core.oidc.Fetcher` over aiohttp: no redirects, bounded body,
    one timeout for the whole request, the provider's CA bundle trusted."""

    def __init__(self, timeout_seconds: float, ca_pem: str | None = None) -> None:
        try:
            context = ssl.create_default_context()
            if ca_pem:
                context.load_verify_locations(cadata=ca_pem)
        except (ssl.SSLError, ValueError) as exc:
            message = f"the CA bundle cannot be loaded: {exc}"
            raise IdPCheckFailed("InvalidCABundle", message) from None
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            connector=aiohttp.TCPConnector(ssl=context, limit=4),
            headers={"Accept": "application/json", "User-Agent": "authgate-operator"},
        )

    async def __call__(self, url: str) -> FetchResult:
        try:
            async with self._session.get(url, allow_redirects=False) as rsp:
                body = await rsp.content.read(_MAX_BODY + 1)
                return FetchResult(status=rsp.status, body=body)
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise FetchError(f"GET {url}: {detail}") from None

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> IdPFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


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
