"""The optional gateway decision cache: bounded, per credential, never stale.

An ingress asks authgate about every request, so a gateway answers the same
question (this token, this method, this path) again and again.  The cache
keeps the rendered *allow* answer, under rules argued for in apache/apisix
PR #13664 (forward-auth cache) and traefik/traefik #11718:

* **Key**: SHA-256 of the ``Authorization`` value (the credential itself is
  never stored), the method, the *normalised* path and the matched rule's
  prefix.  Two identities can never share an entry: a different credential
  is a different key.
* **Never outlives the token**: an entry expires at the earlier of
  ``gateway.cache_ttl_seconds`` and the token's ``exp``; and a hit is only
  served after the :class:`~authgate.core.verify.TokenVerifier` has
  re-checked the credential (a cheap cache hit there, which also re-checks
  that the signing key is still in the JWKS) and returned the *same*
  principal.  So the cache saves the rule match and the rendering, never a
  security check.
* **Honours ``Cache-Control: no-store``** (and ``no-cache``) on the check
  request: the decision is made afresh and not stored.
* **Bounded** by ``gateway.cache_size`` (oldest entry evicted first), and
  owned by one :class:`~authgate.core.gate.Gate`, so a config reload starts
  empty.  Denials are not cached (a 401 has no verified expiry to bound it).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .principal import Principal

__all__ = ["CacheKey", "CachedAnswer", "DecisionCache", "cache_key", "forbids_caching"]

CacheKey = tuple[bytes, str, str, str]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A rendered allow answer and the principal it was rendered for."""

    principal: Principal
    headers: tuple[tuple[str, str], ...]
    expires: float


def cache_key(authorization: str, method: str, path: str, rule_prefix: str) -> CacheKey:
    """The key for one decision (see the module docstring)."""
    digest = hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).digest()
    return (digest, method, path, rule_prefix)


def forbids_caching(headers: Sequence[tuple[str, str]]) -> bool:
    """True when the check request says ``Cache-Control: no-store`` or ``no-cache``
    (RFC 9111 §5.2.1)."""
    for name, value in headers:
        if len(name) == 13 and name.lower() == "cache-control":
            directives = {d.strip().split("=", 1)[0].lower() for d in value.split(",")}
            if directives & {"no-store", "no-cache"}:
                return True
    return False


class DecisionCache:
    """Allow answers by :data:`CacheKey`, bounded in size and time."""

    def __init__(
        self, size: int, ttl_seconds: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.size = size
        self.ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[CacheKey, CachedAnswer] = {}
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.ttl > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if self._clock() >= entry.expires:
            del self._entries[key]
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, key: CacheKey, principal: Principal, headers: Sequence[tuple[str, str]]) -> None:
        """Remember an allow answer until the earlier of the TTL and the token's ``exp``."""
        if not self.enabled:
            return
        expires = self._clock() + self.ttl
        if principal.expires_at is not None:
            expires = min(expires, principal.expires_at)
        entries = self._entries
        entries.pop(key, None)
        while len(entries) >= self.size:
            del entries[next(iter(entries))]
        entries[key] = CachedAnswer(principal, tuple(headers), expires)

    def clear(self) -> None:
        self._entries.clear()
