"""Bearer-token verification (RFC 7519 JWT, RFC 7515 JWS, RFC 8725 JWT BCP,
RFC 6750 bearer usage) — strict, and fast for tokens seen before.

The order of checks is deliberate: nothing about a token is trusted, and
nothing expensive is done, before it has passed the cheap structural checks.

1. **Size** (``tokens.max_token_bytes``) and **shape**: exactly three
   base64url segments (five segments — JWE — and nested JWTs, ``cty: JWT``,
   are refused).  Segments must be canonical unpadded base64url.
2. **Header**: a JSON object without duplicate member names (RFC 7515 §5.2
   step 4; PyJWT's parser would silently keep the last one) and without
   NaN/Infinity.  ``alg`` must be a string in the allow-list (``none`` in any
   case is refused unless in quickstart); unknown ``crit`` is refused (we
   implement no extensions, RFC 7515 §4.1.11); ``typ``, when present, must
   name a JWT/access-token type (RFC 8725 §3.11).  ``jku``, ``x5u``, ``jwk``
   and ``x5c`` are never read: keys come only from the configured issuer's
   JWKS (RFC 8725 §3.10).  ``kid`` is an opaque string of at most 256
   characters, used only as a dictionary key.
3. **Issuer**: ``iss`` must equal one of the configured issuers exactly; it
   selects one issuer entry (:mod:`authgate.core.issuers`: the IdP, the
   cluster's service-account issuer, ...) and that entry's
   :class:`~authgate.core.keys.KeyCache` — never another issuer's keys.
4. **Key and signature**: the key's type must match ``alg`` (RSA → RS*/PS*,
   EC → ES* of the key's curve, OKP → EdDSA; RFC 8725 §3.1), so an HS256
   token "signed" with the RSA public key has nowhere to go.  The signature is
   checked with PyJWT's algorithm objects (cryptography underneath, which
   also refuses ECDSA r = s = 0).
5. **Claims**: ``exp`` (required), ``nbf`` and ``iat`` must be numbers and
   hold with ``tokens.leeway_seconds``; ``aud`` is a string or an array of
   strings and must contain an accepted audience; the subject must be a
   non-empty string.  Scopes come from ``scope`` and ``scp`` (space-delimited
   string or array), with ``oidc.scope_prefix`` stripped.

Verified tokens are cached by the SHA-256 of the token (the token itself is
never stored, logged or echoed), bounded by ``tokens.cache_size`` entries, by
``tokens.cache_max_bytes`` of (estimated) memory and by each token's ``exp``;
a hit is re-validated against the current key set, so a key removed from the
JWKS, or keys gone stale, invalidate cached tokens at once
(:mod:`~authgate.core.tokencache`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms

from .config import ASYMMETRIC_ALGORITHMS, ProxyConfig
from .errors import InvalidToken
from .issuers import CompiledIssuer, compile_issuers, scopes_claim, strings_claim
from .jsonobject import json_object
from .keys import KeyCache
from .oidc import VerificationKey
from .principal import Principal
from .revocation import RevocationList

__all__ = ["QUICKSTART_ISSUER", "TokenVerifier", "decode_segment", "parse_json_object"]

from .quickstart import QUICKSTART_ISSUER
from .tokencache import ENTRY_OVERHEAD_BYTES, Cached, TokenCache, cost

MAX_KID_LENGTH = 256
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
# Only asymmetric algorithms can ever be used, whatever a (hand-built) config says.
_ALGORITHMS: dict[str, Algorithm] = {
    name: alg for name, alg in get_default_algorithms().items() if name in ASYMMETRIC_ALGORITHMS
}


def _malformed(description: str, reason: str = "malformed_token") -> InvalidToken:
    return InvalidToken(description, reason=reason)


def decode_segment(segment: str, what: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): no padding, no foreign
    characters, no non-canonical trailing bits."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise _malformed(f"the token {what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise _malformed(f"the token {what} is not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise _malformed(f"the token {what} is not canonical base64url")
    return raw


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """A JSON object with unique member names and no NaN/Infinity (see :mod:`.jsonobject`)."""
    return json_object(raw, f"the token {what}", _malformed, strict=True)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"the '{name}' claim is not a number", reason="bad_claim")
    return float(value)


class TokenVerifier:
    """Verifies bearer tokens against the configured issuers' key caches.

    ``keys`` maps each accepted issuer to its :class:`KeyCache`.  In
    quickstart mode unsigned (``alg: none``) tokens carrying an email claim
    are accepted too, and marked ``Principal.quickstart``.
    """

    def __init__(
        self,
        config: ProxyConfig,
        keys: Mapping[str, KeyCache],
        *,
        clock: Callable[[], float] = time.time,
        revocations: Mapping[str, RevocationList] | None = None,
    ) -> None:
        self._keys = dict(keys)
        # Per access-key issuer: its revocation list (absent: such keys are refused).
        self._revocations = dict(revocations or {})
        self._clock = clock
        tokens = config.tokens
        self._algorithms = frozenset(a for a in tokens.algorithms if a in _ALGORITHMS)
        self._leeway = tokens.leeway_seconds
        self._max_bytes = tokens.max_token_bytes
        self._subject_claim = tokens.subject_claim
        self._email_claim = tokens.email_claim
        self._groups_claim = tokens.groups_claim
        self._issuers = compile_issuers(config)
        self._prefix = config.oidc.scope_prefix
        self._quickstart = config.quickstart.enabled
        self._cache = TokenCache(tokens.cache_size, tokens.cache_max_bytes)
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def cache_entries(self) -> int:
        return self._cache.entries

    @property
    def cache_bytes(self) -> int:
        """The estimated memory held by the cache's entries."""
        return self._cache.bytes

    @property
    def key_caches(self) -> Mapping[str, KeyCache]:
        """The key cache per accepted issuer (read-only), for a credential
        source that verifies other tokens of the same issuers (ID tokens)."""
        return MappingProxyType(self._keys)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; otherwise :class:`InvalidToken`
        with a precise ``reason``."""
        if len(token) > self._max_bytes:
            raise InvalidToken("the token is too large", reason="token_too_large")
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None:
            if self._still_valid(hit, now):
                self.cache_hits += 1
                if hit.principal.kind == "access_key":
                    self._check_revoked(hit.principal)
                return hit.principal
            self._cache.discard(digest)
        self.cache_misses += 1
        entry = await self._verify_uncached(token, now)
        self._cache.put(digest, entry)
        if entry.principal.kind == "access_key":
            self._check_revoked(entry.principal)
        return entry.principal

    def _check_revoked(self, principal: Principal) -> None:
        """Access keys are checked against their issuer's revocation list on every
        request (the token cache only saves the signature check, never this)."""
        revocations = self._revocations.get(principal.issuer)
        if revocations is None:
            raise InvalidToken(
                "access keys cannot be checked (no revocation list)",
                reason="revocations_unavailable",
            )
        revocations.check(principal.attribute("access_key_id"))

    def _still_valid(self, hit: Cached, now: float) -> bool:
        if now >= hit.valid_until or now < hit.not_before:
            return False
        if hit.cache is None:
            return True
        key = hit.cache.current(hit.kid)
        return key is not None and key.thumbprint == hit.thumbprint

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- the uncached path ---------------------------------------------------

    async def _verify_uncached(self, token: str, now: float) -> Cached:
        if not token.isascii():
            raise _malformed("the token contains non-ASCII characters")
        parts = token.split(".")
        if len(parts) == 5:
            raise _malformed("encrypted tokens (JWE) are not accepted")
        if len(parts) != 3:
            raise _malformed("the token is not a JWS in compact serialization")
        header_b64, payload_b64, signature_b64 = parts
        header = parse_json_object(decode_segment(header_b64, "header"), "header")
        alg = self._check_header(header)
        claims = parse_json_object(decode_segment(payload_b64, "payload"), "payload")
        signature = decode_segment(signature_b64, "signature")

        if alg is None:  # unsigned quickstart token (header check allowed it)
            if signature:
                raise _malformed("an unsigned token must have an empty signature")
            return self._quickstart_principal(claims, now)

        # Route by the (not yet verified) iss to exactly one entry: only that
        # issuer's keys are ever tried, so no issuer can vouch for another's tokens.
        issuer = claims.get("iss")
        entry = self._issuers.get(issuer) if isinstance(issuer, str) else None
        cache = self._keys.get(entry.issuer) if entry is not None else None
        if entry is None or cache is None:
            raise InvalidToken("the token's issuer is not accepted", reason="bad_issuer")
        kid = header.get("kid")
        key = await cache.get(kid, alg)
        if alg not in key.algorithms:
            raise InvalidToken("the token's alg does not match its key", reason="alg_not_allowed")
        if not signature:
            raise InvalidToken("the token has no signature", reason="bad_signature")
        signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
        if not self._check_signature(alg, key, signing_input, signature):
            raise InvalidToken("the token's signature is invalid", reason="bad_signature")
        return self._claims_principal(claims, entry, now, cache, key)

    def _check_header(self, header: dict[str, Any]) -> str | None:
        """Validate the JOSE header; the ``alg`` to verify with (None = unsigned)."""
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise _malformed("the token header has no alg")
        if "enc" in header:
            raise _malformed("encrypted tokens (JWE) are not accepted")
        cty = header.get("cty")
        if cty is not None:
            raise _malformed("nested or typed-content tokens are not accepted")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP):
            raise InvalidToken("the token's typ is not a JWT type", reason="bad_token_type")
        if "crit" in header:
            raise InvalidToken(
                "the token requires extensions we do not implement", reason="unsupported_crit"
            )
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
            raise _malformed("the token's kid is not a short string")
        if alg.lower() == "none":
            if self._quickstart and alg == "none":
                return None
            raise InvalidToken("unsigned tokens are not accepted", reason="alg_not_allowed")
        if alg not in self._algorithms:
            raise InvalidToken("the token's alg is not allowed", reason="alg_not_allowed")
        return alg

    @staticmethod
    def _check_signature(alg: str, key: VerificationKey, message: bytes, sig: bytes) -> bool:
        try:
            return bool(_ALGORITHMS[alg].verify(message, key.key, sig))
        except Exception:  # any library complaint about the signature means "invalid"
            return False

    def _times(
        self, claims: dict[str, Any], now: float, *, require_exp: bool
    ) -> tuple[float, float]:
        """Check exp/nbf/iat; return (valid_until, not_before) for the cache."""
        exp = _number(claims, "exp")
        nbf = _number(claims, "nbf")
        iat = _number(claims, "iat")
        leeway = self._leeway
        if exp is None:
            if require_exp:
                raise InvalidToken("the token has no 'exp' claim", reason="missing_claim")
            valid_until = math.inf
        else:
            valid_until = exp + leeway
            if now >= valid_until:
                raise InvalidToken("the token has expired", reason="token_expired")
        not_before = -math.inf
        if nbf is not None:
            not_before = nbf - leeway
            if now < not_before:
                raise InvalidToken("the token is not valid yet", reason="token_not_yet_valid")
        if iat is not None and iat - leeway > now:
            raise InvalidToken("the token was issued in the future", reason="token_not_yet_valid")
        return valid_until, not_before

    def _claims_principal(
        self,
        claims: dict[str, Any],
        entry: CompiledIssuer,
        now: float,
        cache: KeyCache,
        key: VerificationKey,
    ) -> Cached:
        valid_until, not_before = self._times(claims, now, require_exp=True)
        aud = claims.get("aud")
        if aud is None:
            raise InvalidToken("the token has no audience", reason="bad_audience")
        audience = strings_claim(aud, "aud", split=False)
        if not entry.audience.intersection(audience):
            raise InvalidToken("the token is meant for another audience", reason="bad_audience")
        identity = entry.map_claims(claims)
        exp = claims.get("exp")
        share = self._cache.share
        issuer, c1 = share(entry.issuer)
        audience, c2 = share(audience)
        groups, c3 = share(identity.groups)
        scopes, c4 = share(identity.scopes)
        principal = Principal(
            subject=identity.subject,
            email=identity.email,
            groups=groups,
            scopes=scopes,
            issuer=issuer,
            audience=audience,
            expires_at=float(exp) if isinstance(exp, int | float) else None,
            kind=entry.kind,
            source=entry.name,
            attributes=identity.attributes,
        )
        size = ENTRY_OVERHEAD_BYTES + cost(identity.subject) + cost(identity.email)
        size += c1 + c2 + c3 + c4
        return Cached(principal, valid_until, not_before, cache, key.kid, key.thumbprint, size)

    def _quickstart_principal(self, claims: dict[str, Any], now: float) -> Cached:
        valid_until, not_before = self._times(claims, now, require_exp=False)
        email = claims.get(self._email_claim)
        if email is not None and not isinstance(email, str):
            raise InvalidToken("the email claim is not a string", reason="bad_claim")
        groups = strings_claim(claims.get(self._groups_claim), self._groups_claim, split=False)
        if not email or "@" not in email:
            raise InvalidToken("an unsigned token needs an email claim", reason="missing_claim")
        subject = claims.get(self._subject_claim)
        if not isinstance(subject, str) or not subject:
            subject = email
        issuer = claims.get("iss")
        exp = claims.get("exp")
        principal = Principal(
            subject=subject,
            email=email,
            groups=groups,
            scopes=scopes_claim(claims, self._prefix),
            issuer=issuer if isinstance(issuer, str) else QUICKSTART_ISSUER,
            audience=strings_claim(claims.get("aud"), "aud", split=False),
            expires_at=float(exp) if isinstance(exp, int | float) else None,
            quickstart=True,
        )
        size = ENTRY_OVERHEAD_BYTES + sum(
            cost(v) for v in (subject, email, groups, principal.scopes, principal.audience)
        )
        return Cached(principal, valid_until, not_before, None, "", "", size)
