"""RS256 keys and tokens for the benchmark, cached between runs.

Minting tens of thousands of RS256 tokens takes a while (one RSA signature
each), so the key and the token file live under
``~/.cache/authgate/bench/`` and are reused until they near expiry.  Every
contender verifies the same tokens against the same JWKS.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["AUDIENCE", "BenchKeys", "cache_dir", "load_keys", "mint_tokens"]

#: The ``aud`` of every token: oauth2-proxy checks it against ``--client-id``,
#: authgate against ``oidc.client_id`` (the default audience).
AUDIENCE = "authgate-bench"
KID = "bench-rs256"
TOKEN_TTL = 7 * 86400
#: Regenerate token files that expire within this many seconds.
MIN_REMAINING = 6 * 3600


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "authgate" / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class BenchKeys:
    private_pem: bytes
    jwks: dict[str, Any]


def load_keys() -> BenchKeys:
    """The cached RSA-2048 signing key (made on first use) and its JWKS."""
    pem_path = cache_dir() / "signing-key.pem"
    if pem_path.exists():
        pem = pem_path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem_path.write_bytes(pem)
        pem_path.chmod(0o600)
    pub = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": KID,
        "use": "sig",
        "alg": "RS256",
        "n": _b64(pub.n),
        "e": _b64(pub.e),
    }
    return BenchKeys(pem, {"keys": [jwk]})


def _claims(issuer: str, now: int, index: int) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": f"user-{index}",
        "email": f"user-{index}@bench.example",
        "email_verified": True,
        "groups": ["bench"],
        "scope": "openid platform:read platform:write",
        "iat": now,
        "nbf": now - 60,
        "exp": now + TOKEN_TTL,
        "jti": uuid.uuid4().hex,
    }


def _mint_batch(args: tuple[bytes, str, int, int, int]) -> list[str]:
    pem, issuer, now, start, count = args
    key = serialization.load_pem_private_key(pem, password=None)
    return [
        jwt.encode(_claims(issuer, now, i), key, algorithm="RS256", headers={"kid": KID})  # type: ignore[arg-type]
        for i in range(start, start + count)
    ]


def mint_tokens(keys: BenchKeys, issuer: str, count: int) -> Path:
    """A file of ``count`` distinct tokens, one a line (cached while valid)."""
    tag = uuid.uuid5(uuid.NAMESPACE_URL, issuer + keys.jwks["keys"][0]["n"]).hex[:12]
    path = cache_dir() / f"tokens-{tag}.txt"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("count", 0) >= count and info.get("exp", 0) - time.time() > MIN_REMAINING:
            return path
    now = int(time.time())
    workers = max(1, os.cpu_count() or 1)
    step = (count + workers - 1) // workers
    batches = [
        (keys.private_pem, issuer, now, s, min(step, count - s)) for s in range(0, count, step)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        tokens = [t for batch in pool.map(_mint_batch, batches) for t in batch]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(tokens) + "\n")
    tmp.replace(path)
    meta.write_text(json.dumps({"count": count, "exp": now + TOKEN_TTL}))
    return path
