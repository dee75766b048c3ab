"""Shared helpers for the pure core tests: real keys, the ``idp`` fixture (the shared
in-memory IdP, :class:`tests.support.fetchers.MemoryIdP`), and a token builder that can
also produce hostile tokens."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from authgate.core.config import KeyConfig, ProxyConfig, parse_config
from tests.support.fetchers import MemoryIdP, keycloak_endpoints

ISSUER = "https://idp.test/realms/platform"
AUDIENCE = "api://authgate"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


@dataclass
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    rsa_other: rsa.RSAPrivateKey

    def jwks(self, *, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        keys = [
            {**json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "rsa1", "use": "sig"},
            {**json.loads(ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "ec1"},
            {**json.loads(OKPAlgorithm.to_jwk(self.ed.public_key())), "kid": "ed1"},
        ]
        return {"keys": keys + (extra or [])}


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        rsa_other=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def idp(keys: Keys) -> MemoryIdP:
    """The in-memory IdP of :data:`ISSUER` with the session's keys (Keycloak's endpoints)."""
    return MemoryIdP(jwks=keys.jwks(), issuer=ISSUER, endpoints=keycloak_endpoints(ISSUER))


class Clock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def base_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "oidc": {"issuer": ISSUER, "client_id": "authgate-cli", "audience": [AUDIENCE]},
    }
    for dotted, value in overrides.items():
        node = doc
        *parents, last = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return doc


def make_config(**overrides: Any) -> ProxyConfig:
    return parse_config(base_document(**overrides))


FAST_KEYS = KeyConfig(
    refresh_interval_seconds=300,
    refresh_jitter=0.1,
    unknown_kid_cooldown_seconds=30,
    stale_max_age_seconds=3600,
    fetch_timeout_seconds=2,
)


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "email": "alice@example.com",
        "groups": ["developers", "platform-admins"],
        "scope": "openid platform:read platform:write",
        "iat": now,
        "exp": now + 300,
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    key: Any, payload: dict[str, Any], *, alg: str = "RS256", kid: str | None = "rsa1", **hdr: Any
) -> str:
    headers: dict[str, Any] = {"kid": kid} if kid is not None else {}
    headers.update(hdr)
    body = json.dumps(payload, separators=(",", ":")).encode()
    return jwt.api_jws.PyJWS().encode(body, key, algorithm=alg, headers=headers)


def raw_token(header: dict[str, Any] | str, payload: dict[str, Any] | str, sig: bytes = b"") -> str:
    h = header if isinstance(header, str) else b64json(header)
    p = payload if isinstance(payload, str) else b64json(payload)
    return f"{h}.{p}.{b64(sig)}"


@pytest.fixture
def wall_clock() -> Iterator[Clock]:
    yield Clock(time.time())
