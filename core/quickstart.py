"""Unsigned quickstart tokens (``alg: none``), for local demos only.

NeMo Platform's CLI offers ``login --unsigned-token --email`` so a developer
can try a deployment without an IdP; authgate's quickstart mode accepts the
same kind of token (see :class:`~authgate.core.verify.TokenVerifier`).  These
tokens prove nothing — anyone can mint one — which is why quickstart mode
refuses non-loopback listen addresses unless explicitly forced.
"""

from __future__ import annotations

import base64
import json
import time

__all__ = ["QUICKSTART_AUDIENCE", "QUICKSTART_ISSUER", "QUICKSTART_SCOPES", "mint_unsigned_token"]

QUICKSTART_ISSUER = "authgate-quickstart"
QUICKSTART_AUDIENCE = "authgate"
QUICKSTART_SCOPES = "platform:read platform:write"


def _segment(obj: dict[str, object]) -> str:
    raw = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_unsigned_token(email: str, ttl_seconds: int = 86400, now: float | None = None) -> str:
    """An unsigned JWT (RFC 7519 §6) for ``email``: ``sub`` and ``email`` are
    the address, ``iss="authgate-quickstart"``, ``aud="authgate"``, scopes
    ``platform:read platform:write``, valid for ``ttl_seconds``."""
    if "@" not in email or any(c.isspace() for c in email):
        raise ValueError("an email address is required")
    issued = int(time.time() if now is None else now)
    header: dict[str, object] = {"alg": "none", "typ": "JWT"}
    claims: dict[str, object] = {
        "iss": QUICKSTART_ISSUER,
        "aud": QUICKSTART_AUDIENCE,
        "sub": email,
        "email": email,
        "scope": QUICKSTART_SCOPES,
        "iat": issued,
        "exp": issued + int(ttl_seconds),
    }
    return f"{_segment(header)}.{_segment(claims)}."
