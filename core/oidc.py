"""OpenID Connect Discovery and JWKS parsing — no I/O of its own.

Network access is *injected*: a :data:`Fetcher` is any ``async (url) ->
FetchResult`` callable.  The proxy passes one backed by its aiohttp session
(timeouts, CA bundle), the operator its own, and tests an in-memory fake — so
this module stays framework-free and every failure mode is testable.

* :func:`fetch_provider_metadata` implements OIDC Discovery 1.0 §4: GET
  ``{issuer}/.well-known/openid-configuration`` and insist that the returned
  ``issuer`` is *exactly* the configured one (§4.3), which defeats a
  metadata document that claims to speak for another issuer.
* :func:`parse_jwks` turns a JWK Set (RFC 7517 §5) into
  :class:`VerificationKey` objects built with PyJWT's per-type ``from_jwk``
  (never ``PyJWKClient``).  It keeps only public signature keys of the types
  we verify (RSA >= 2048 bits, EC P-256/384/521, OKP Ed25519/Ed448), skips
  ``use: enc`` keys, keys carrying private material and anything malformed,
  and records which ``alg`` values each key may be used with (RFC 8725 §3.1).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from .jsonobject import json_object

__all__ = [
    "DiscoveryError",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "ProviderMetadata",
    "VerificationKey",
    "algorithms_for_key",
    "describe_skipped",
    "fetch_provider_metadata",
    "parse_jwks",
    "well_known_url",
]

log = logging.getLogger("authgate.core.oidc")

MAX_DOCUMENT_BYTES = 1 << 20  # discovery documents and JWKS larger than 1 MiB are refused
MIN_RSA_BITS = 2048  # RFC 7518 §3.3


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The status and body of one HTTP GET (and its ``ETag``, for conditional polls)."""

    status: int
    body: bytes
    etag: str | None = None


class FetchError(Exception):
    """Network error or timeout while fetching (raised by a :data:`Fetcher`)."""


class DiscoveryError(Exception):
    """The IdP's discovery document or JWKS is unusable; the message says why."""


Fetcher = Callable[[str], Awaitable[FetchResult]]


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of an OIDC provider's metadata authgate uses."""

    issuer: str
    jwks_uri: str
    revocation_endpoint: str | None = None  # RFC 7009 (advertised per RFC 8414 §2)
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None  # OIDC RP-Initiated Logout 1.0 §2.1


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One public key from a JWKS, with the ``alg`` values it may verify.

    ``kid`` is the JWK's ``kid`` or, when it has none, its RFC 7638 thumbprint
    (``has_kid`` is then false).  ``thumbprint`` identifies the key material
    across refreshes, so cached verifications survive a refresh that returns
    the same keys but not one that drops them.
    """

    kid: str
    kty: str
    algorithms: frozenset[str]
    key: Any = field(repr=False, compare=False)
    thumbprint: str = ""
    has_kid: bool = True


def well_known_url(issuer: str) -> str:
    """``{issuer}/.well-known/openid-configuration`` (OIDC Discovery §4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _optional_url(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise DiscoveryError(f"discovery document: {name} is not a URL")
    return value


async def fetch_provider_metadata(
    issuer: str, fetch: Fetcher, *, url: str | None = None
) -> ProviderMetadata:
    """Discover ``issuer``'s metadata (from ``url``, default the issuer's
    well-known URL: a cluster's service-account issuer publishes it on the
    apiserver, whatever its issuer URL); raise :class:`DiscoveryError` (or the
    fetcher's :class:`FetchError`) when it cannot be trusted or used."""
    url = url or well_known_url(issuer)
    result = await fetch(url)
    if result.status != 200:
        raise DiscoveryError(f"GET {url} answered HTTP {result.status}")
    meta = json_object(
        result.body, "discovery document", DiscoveryError, max_bytes=MAX_DOCUMENT_BYTES
    )
    if meta.get("issuer") != issuer:
        raise DiscoveryError(
            f"discovery document names issuer {meta.get('issuer')!r}, expected {issuer!r} "
            "(OIDC Discovery §4.3 requires an exact match)"
        )
    jwks_uri = _optional_url(meta, "jwks_uri")
    if jwks_uri is None:
        raise DiscoveryError("discovery document has no jwks_uri")
    return ProviderMetadata(
        issuer=issuer,
        jwks_uri=jwks_uri,
        revocation_endpoint=_optional_url(meta, "revocation_endpoint"),
        token_endpoint=_optional_url(meta, "token_endpoint"),
        device_authorization_endpoint=_optional_url(meta, "device_authorization_endpoint"),
        authorization_endpoint=_optional_url(meta, "authorization_endpoint"),
        userinfo_endpoint=_optional_url(meta, "userinfo_endpoint"),
        end_session_endpoint=_optional_url(meta, "end_session_endpoint"),
    )


_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


def algorithms_for_key(key: Any) -> frozenset[str]:
    """The JWS ``alg`` values a public key may verify (RFC 7518 §3, RFC 8037):
    RSA → RS*/PS*, EC → the ES* of its curve, Ed25519/Ed448 → EdDSA."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGS if key.key_size >= MIN_RSA_BITS else frozenset()
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGS.get(key.curve.name)
        return frozenset({alg}) if alg else frozenset()
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return frozenset({"EdDSA"})
    return frozenset()


_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    members = {m: jwk[m] for m in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _parse_jwk(jwk: dict[str, Any]) -> VerificationKey | str:
    """The key, or why it was skipped (a short phrase for logs and status)."""
    kty = jwk.get("kty")
    if kty not in _THUMBPRINT_MEMBERS:
        return f"kty {str(kty)[:16]!r} is not RSA, EC or OKP"
    use = jwk.get("use", "sig")
    if use != "sig":
        return f"use {str(use)[:16]!r} is not 'sig'"
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return "key_ops does not include 'verify'"
    if "d" in jwk:
        log.warning("JWKS contains private key material; key ignored")
        return "it carries private key material"
    if not all(isinstance(jwk.get(m), str) for m in _THUMBPRINT_MEMBERS[kty]):
        return "its key parameters are missing or not strings"
    builders: dict[str, Any] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}
    try:
        key = builders[kty].from_jwk(jwk)
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return "its key parameters do not form a valid key"
    algorithms = algorithms_for_key(key)
    if not algorithms:
        return f"a {kty} key of this size or curve cannot verify tokens (RSA needs >= 2048 bits)"
    declared = jwk.get("alg")
    if declared is not None:
        algorithms = algorithms & {declared} if isinstance(declared, str) else frozenset()
        if not algorithms:
            return f"alg {str(declared)[:16]!r} does not fit this {kty} key or is not allowed"
    thumb = _thumbprint(jwk)
    kid = jwk.get("kid")
    has_kid = isinstance(kid, str) and bool(kid)
    return VerificationKey(
        kid=kid if isinstance(kid, str) and kid else thumb,
        kty=kty,
        algorithms=algorithms,
        key=key,
        thumbprint=thumb,
        has_kid=has_kid,
    )


def describe_skipped(skipped: list[str]) -> str:
    """``" (skipped: kid 'a': use 'enc' is not 'sig'; ...)"``, or ``""``."""
    return f" (skipped: {'; '.join(skipped[:8])})" if skipped else ""


def parse_jwks(body: bytes, skipped: list[str] | None = None) -> dict[str, VerificationKey]:
    """Usable public signing keys of a JWK Set, by ``kid`` (see the module
    docstring for what is skipped).  Raises :class:`DiscoveryError` when the
    document itself is malformed; a set with no usable key yields ``{}``.
    Each skipped key is appended to ``skipped`` as ``"kid 'x': why"``, so the
    "no usable signing key" messages can say which key was skipped and why."""
    doc = json_object(body, "JWKS", DiscoveryError, max_bytes=MAX_DOCUMENT_BYTES)
    keys = doc.get("keys")
    if not isinstance(keys, list):
        raise DiscoveryError("JWKS has no 'keys' array")
    found: dict[str, VerificationKey] = {}
    for jwk in keys:
        if not isinstance(jwk, dict):
            continue
        parsed = _parse_jwk(jwk)
        if isinstance(parsed, str):
            kid = jwk.get("kid")
            name = f"kid {kid[:64]!r}" if isinstance(kid, str) and kid else "a key without kid"
            if skipped is not None:
                skipped.append(f"{name}: {parsed}")
            log.info("JWKS key skipped", extra={"kid": name, "why": parsed})
            continue
        if parsed.kid in found:
            log.warning("JWKS lists kid %r twice; keeping the first", parsed.kid[:64])
            continue
        found[parsed.kid] = parsed
    return found
