"""Token forgeries from the JWT BCP (RFC 8725) and the JOSE specs.

Each helper builds a compact serialisation by hand, so nothing a library
would refuse to produce (``alg: none``, HS256 keyed with an RSA public key,
duplicate JSON members, ``r = s = 0``) is out of reach.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.support.idp import KeyPair

AUDIENCE = "api://authgate"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims(
    issuer: str,
    sub: str,
    *,
    scope: str = "openid platform:read platform:write",
    ttl: int = 600,
    **extra: Any,
) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": sub,
        "email": f"{sub}@example.com",
        "groups": ["developers"],
        "scope": scope,
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl,
    }
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}  # None removes a claim


def assemble(header_json: str | bytes, payload_json: str | bytes, sig: bytes = b"") -> str:
    """Compact JWS from exact JSON texts (so duplicate members survive)."""
    h = header_json.encode() if isinstance(header_json, str) else header_json
    p = payload_json.encode() if isinstance(payload_json, str) else payload_json
    return f"{b64url(h)}.{b64url(p)}.{b64url(sig)}"


def unsigned(header: dict[str, Any], payload: dict[str, Any], sig: bytes = b"") -> str:
    return assemble(json.dumps(header), json.dumps(payload), sig)


def rs256_raw(key: KeyPair, header_json: str, payload_json: str) -> str:
    """RS256 over exact JSON texts, signed with ``key`` (a real, valid signature)."""
    signing_input = f"{b64url(header_json.encode())}.{b64url(payload_json.encode())}".encode()
    sig = key.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(sig)}"


def hmac_with_public_key(key: KeyPair, payload: dict[str, Any], alg: str = "HS256") -> str:
    """Key confusion (RFC 8725 §2.1): HMAC keyed with the published public key."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid}).encode())
    body = b64url(json.dumps(payload).encode())
    mac = hmac.new(key.public_pem, f"{header}.{body}".encode(), digest).digest()
    return f"{header}.{body}.{b64url(mac)}"


def es256_zero_signature(kid: str, payload: dict[str, Any]) -> str:
    """ECDSA with r = s = 0 (the "psychic signature", CVE-2022-21449)."""
    return unsigned({"alg": "ES256", "typ": "JWT", "kid": kid}, payload, b"\x00" * 64)


def jwe_like(kid: str) -> str:
    """A five-part JWE compact serialisation (RFC 7516 §7.1)."""
    header = b64url(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": kid}).encode())
    return ".".join(
        [header, b64url(b"k" * 256), b64url(b"i" * 12), b64url(b"c" * 64), b64url(b"t" * 16)]
    )


def self_signed_x5c(key: KeyPair) -> str:
    """The base64 DER of a self-signed certificate for ``key`` (for ``x5c``)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public)
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def attacker_rsa(kid: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(kid, "RS256", key, key.public_key())
