"""Unsigned tokens for the local quickstart (no IdP).

The proxy's quickstart mode accepts ``alg: none`` JWTs that carry an email,
mirroring the seed platform's email shortcut. The core mints them, so the
token's shape is defined once for the client and the proxy; a quickstart
"refresh" simply mints a new one for the same email.
"""

from __future__ import annotations

import re
import time

from authgate.client.errors import UsageError
from authgate.client.tokens import TokenSet

QUICKSTART_TTL_SECONDS = 24 * 3600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def mint(email: str, ttl_seconds: int = QUICKSTART_TTL_SECONDS) -> TokenSet:
    if not _EMAIL.match(email):
        raise UsageError(f"{email!r} is not an email address", hint="e.g. --email you@example.com")
    from authgate.core.quickstart import mint_unsigned_token

    now = time.time()
    token = mint_unsigned_token(email, ttl_seconds=ttl_seconds, now=now)
    return TokenSet(
        access_token=token,
        expires_at=now + ttl_seconds,
        grant="unsigned",
        email=email,
        scope="platform:read platform:write",
        obtained_at=now,
    )
