"""Shared pieces of the fuzz suite: a config, a signing key, a verifier wired to
an in-memory IdP, and token builders.

Both the hypothesis property tests and the atheris target import this module,
so the two fuzzers exercise exactly the same entry points of the shared core:
``TokenVerifier.verify``, ``HeaderPlan.filter_request``/``inject``,
``normalize_path`` and ``Gate.decide``.  The IdP is an in-memory fetcher (the
core takes its fetcher as a parameter), so fuzzing needs no network and no
event-loop sockets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from authgate.core.config import ProxyConfig, parse_config
from authgate.core.errors import AuthError
from tests.support.fetchers import MemoryIdP, keycloak_endpoints

ISSUER = "https://idp.fuzz.invalid/realms/authgate"
JWKS_URI = ISSUER + "/protocol/openid-connect/certs"
AUDIENCE = "api://authgate"
CLIENT_ID = "authgate-cli"
KID = "fuzz-key-1"

#: ``alg`` values an attacker would try (RFC 8725 §2.1): ``none`` spellings,
#: symmetric algorithms (key confusion), unknown names, wrong types.
HOSTILE_ALGS: tuple[Any, ...] = (
    "none",
    "None",
    "NONE",
    "nOnE",
    "",
    " none",
    "none ",
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "rs256",
    "RS256 ",
    "ES256",
    "PS256",
    "EdDSA",
    "dir",
    "A128KW",
    "RSA-OAEP",
    None,
    0,
    ["RS256"],
    {"alg": "RS256"},
    True,
)


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def config_document(**sections: Any) -> dict[str, Any]:
    """A minimal valid ``ProxyConfig`` document; ``sections`` replace whole
    sections (mappings) or set top-level scalars such as ``auth_enabled``."""
    doc: dict[str, Any] = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "upstream": {"url": "http://127.0.0.1:9"},
        "oidc": {
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "audience": [AUDIENCE],
            "jwks_uri": JWKS_URI,
        },
        "authorization": {
            "rules": [
                {
                    "path_prefix": "/apis/files/",
                    "read_scopes": ["files:read"],
                    "write_scopes": ["files:write"],
                }
            ]
        },
    }
    for name, value in sections.items():
        doc[name] = dict(value) if isinstance(value, Mapping) else value
    return doc


def make_config(**sections: Any) -> ProxyConfig:
    return parse_config(config_document(**sections))


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair plus its JWKS, as the in-memory IdP publishes it."""

    private: rsa.RSAPrivateKey
    private_pem: bytes
    public_pem: bytes
    jwks: bytes

    @classmethod
    def generate(cls, kid: str = KID) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private.public_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        return cls(
            private=private,
            private_pem=private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            public_pem=public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            jwks=json.dumps({"keys": [jwk]}).encode(),
        )

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """A correctly RS256-signed JWS over ``claims`` (extra protected ``headers``).
        Signed by hand: PyJWT refuses to *encode* ill-typed claims such as a
        non-string ``iss``, and those are exactly what we want to send."""
        hdr = {"alg": "RS256", "typ": "JWT", "kid": KID, **(headers or {})}
        signing_input = (
            f"{b64url(json.dumps(hdr).encode())}.{b64url(json.dumps(dict(claims)).encode())}"
        )
        sig = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(sig)}"

    def hs256_with_public_key(self, claims: Mapping[str, Any]) -> str:
        """The classic key-confusion forgery: HS256 keyed with the RSA public PEM."""
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
        payload = b64url(json.dumps(dict(claims)).encode())
        signing_input = f"{header}.{payload}".encode()
        mac = hmac.new(self.public_pem, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{b64url(mac)}"


def good_claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    """Claims the verifier accepts (before ``overrides``)."""
    now = time.time() if now is None else now
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-123",
        "email": "user@example.com",
        "groups": ["developers"],
        "scope": "openid platform:read platform:write",
        "iat": int(now),
        "nbf": int(now) - 5,
        "exp": int(now) + 600,
    }
    claims.update(overrides)
    return claims


def raw_jws(header: Any, payload: Any, signature: bytes = b"") -> str:
    """A compact JWS built by hand from arbitrary JSON values (no checks)."""
    return ".".join(
        (
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(payload).encode()),
            b64url(signature),
        )
    )


class VerifierHarness:
    """A ``TokenVerifier`` and ``Gate`` on a private event loop, for sync callers
    (hypothesis ``@given`` tests and the atheris target)."""

    def __init__(self, config: ProxyConfig | None = None, key: SigningKey | None = None) -> None:
        from authgate.core.keys import KeyCache
        from authgate.core.verify import TokenVerifier

        self.config = config or make_config()
        self.key = key or SigningKey.generate()
        self.idp = MemoryIdP(
            jwks=json.loads(self.key.jwks), issuer=ISSUER, endpoints=keycloak_endpoints(ISSUER)
        )
        self.loop = asyncio.new_event_loop()
        self.caches = {
            iss: KeyCache(iss, self.idp, self.config.keys, jwks_uri=self.config.oidc.jwks_uri)
            for iss in self.config.oidc.issuers
        }
        for cache in self.caches.values():
            self.loop.run_until_complete(cache.start())
        self.verifier = TokenVerifier(self.config, self.caches)
        self._gate: Any = None

    @property
    def gate(self) -> Any:
        """The ``Gate`` over the same key caches (built on first use)."""
        if self._gate is None:
            from authgate.core.gate import Gate

            self._gate = Gate.from_config(self.config, self.caches)
        return self._gate

    def verify(self, token: str) -> Any:
        return self.loop.run_until_complete(self.verifier.verify(token))

    def decide(self, method: str, target: str, headers: list[tuple[str, str]]) -> Any:
        return self.loop.run_until_complete(self.gate.decide(method, target, headers))

    def close(self) -> None:
        for cache in self.caches.values():
            self.loop.run_until_complete(cache.close())
        self.loop.close()


def rejects(harness: VerifierHarness, token: str) -> AuthError:
    """Verify ``token`` expecting rejection; return the AuthError.  Any other
    exception propagates (a crash is a finding); acceptance is an AssertionError."""
    try:
        principal = harness.verify(token)
    except AuthError as exc:
        if len(token) >= 16:
            assert token not in exc.description, "the token leaked into the error description"
            assert token not in str(exc.body()), "the token leaked into the error body"
        return exc
    raise AssertionError(f"token accepted: principal={principal!r}")


def canon(name: str) -> str:
    """Header-name identity as an attacker sees it: case-insensitive, ``_`` ≡ ``-``."""
    return name.strip().lower().replace("_", "-")


_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


def check_normal_form(path: str) -> None:
    """Assert ``path`` is a normalised path nothing downstream can re-interpret:
    absolute, no ``//``, no raw or encoded dot segments, no encoded separators,
    no ``\\``, NUL or ``;`` parameters."""
    assert path.startswith("/"), path
    assert "//" not in path, path
    assert "\\" not in path and "\x00" not in path, path
    assert ";" not in path, path
    assert not _ENCODED_SEPARATOR.search(path), path
    for seg in path.split("/"):
        assert unquote(seg) not in (".", ".."), f"dot segment {seg!r} in {path!r}"
