"""The operator's access-key signing keys: ES256 (P-256) keys in a Secret,
rotated with overlap, published as a JWKS.

Why asymmetric: sidecars verify access keys exactly like IdP tokens, from a
published JWKS, so no sidecar ever holds a secret that could mint a key.

Rotation with overlap (the rule RFC 7517 deployments follow, and what OIDC
providers do for their own keys):

1. When the current key is ``rotation_seconds`` old, a successor is *added*
   with ``active_from = now + prepublish_seconds``.  It is in the JWKS at once
   but signs nothing yet, so every sidecar's periodic JWKS refresh (or its
   unknown-kid refetch) has picked it up before the first token signed with it
   arrives.
2. From ``active_from`` on, new keys are signed with the successor.
3. An older key stays published while any key record that still works (Active,
   Suspended or Rotating, not expired) was signed with it; then it is removed.
   A revoked or expired key's token then fails on its unknown ``kid`` too.

The Secret (``authgate-accesskeys-<provider>``, key ``keys.json``) is the only
copy of the private keys.  Every operator replica reads it; writes carry the
``resourceVersion`` they read, so two replicas never both rotate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["SigningKey", "SigningKeySet", "secret_name"]

SECRET_KEY = "keys.json"  # noqa: S105 (the data key inside the Secret, not a secret)
ALGORITHM = "ES256"


def secret_name(provider: str) -> str:
    return f"authgate-accesskeys-{provider}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    pem: str  # PKCS#8 private key
    created_at: float
    active_from: float

    @classmethod
    def generate(cls, now: float, active_from: float) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return cls(
            kid=_thumbprint(_public_jwk(private.public_key())),
            pem=pem,
            created_at=now,
            active_from=active_from,
        )

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.pem.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("access-key signing key is not an EC key")
        return key

    def jwk(self) -> dict[str, str]:
        jwk = _public_jwk(self.private_key().public_key())
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": ALGORITHM,
            "pem": self.pem,
            "created_at": self.created_at,
            "active_from": self.active_from,
        }


def _public_jwk(public: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def _thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (members crv, kty, x, y in lexicographic order)."""
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True, slots=True)
class SigningKeySet:
    """The keys of one provider, oldest first; ``resource_version`` of the Secret read."""

    keys: tuple[SigningKey, ...]
    resource_version: str | None = None

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any] | None) -> SigningKeySet | None:
        if not secret:
            return None
        raw = (secret.get("data") or {}).get(SECRET_KEY)
        if not raw:
            return None
        try:
            items = json.loads(base64.b64decode(raw))
            keys = tuple(
                SigningKey(
                    kid=str(i["kid"]),
                    pem=str(i["pem"]),
                    created_at=float(i["created_at"]),
                    active_from=float(i["active_from"]),
                )
                for i in items
            )
        except (ValueError, KeyError, TypeError):
            return None
        meta = secret.get("metadata") or {}
        version = meta.get("resourceVersion") or meta.get("resource_version")
        return cls(tuple(sorted(keys, key=lambda k: k.created_at)), version) if keys else None

    def secret_data(self) -> dict[str, str]:
        blob = json.dumps([k.to_json() for k in self.keys]).encode()
        return {SECRET_KEY: base64.b64encode(blob).decode("ascii")}

    def signer(self, now: float) -> SigningKey:
        """The newest key whose ``active_from`` has come (the oldest if none has)."""
        active = [k for k in self.keys if k.active_from <= now]
        return active[-1] if active else self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.keys]}

    def kids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self.keys)

    def planned(
        self,
        now: float,
        *,
        rotation_seconds: float,
        prepublish_seconds: float,
        in_use: Iterable[str],
    ) -> SigningKeySet | None:
        """The set after one rotation step, or None when nothing changes."""
        keys = list(self.keys)
        changed = False
        newest = keys[-1]
        if newest.active_from <= now and now - newest.active_from >= rotation_seconds:
            keys.append(SigningKey.generate(now, now + prepublish_seconds))
            changed = True
        signer = SigningKeySet(tuple(keys)).signer(now)
        used = set(in_use)
        # A superseded key also stays for ``prepublish_seconds`` after its successor
        # took over: a key another replica signed a moment ago may not be in ``in_use`` yet.
        kept = [
            k
            for i, k in enumerate(keys)
            if k.kid in used
            or k is signer
            or k.active_from > signer.active_from
            or (i + 1 < len(keys) and now - keys[i + 1].active_from < prepublish_seconds)
        ]
        if len(kept) != len(keys):
            changed = True
        return SigningKeySet(tuple(kept), self.resource_version) if changed else None

    @classmethod
    def initial(cls, now: float) -> SigningKeySet:
        return cls((SigningKey.generate(now, now),))


def mint(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS (RFC 7515) of ``claims``, typed ``at+jwt`` (RFC 9068 §2.1)."""
    return jwt.encode(
        dict(claims),
        key.private_key(),
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": "at+jwt"},
    )


def now() -> float:
    return time.time()
