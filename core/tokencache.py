"""The verified-token cache: bounded by entries *and* by memory.

A sidecar's memory is paid once per pod, so the cache that makes repeated
tokens cheap (a hit skips the signature check) must not grow with the number
of distinct tokens the pod sees.  Entries are bounded by
``tokens.cache_size`` and by ``tokens.cache_max_bytes`` of estimated memory,
and evicted oldest first (insertion order: O(1) per insert even under a
flood of distinct valid tokens).

The estimate is the entry's own strings (subject, email) plus a fixed
overhead measured with tracemalloc on CPython 3.11 — the SHA-256 key and its
dict slot, the entry, the :class:`~authgate.core.principal.Principal`, its
floats and tuples.  Values that many tokens carry (issuer, audience, group
and scope lists) are stored once and shared by every entry
(:meth:`TokenCache.share`), which halves the cost of a typical entry (about
1,050 → 550 bytes for the benchmark's tokens).  docs/performance.md shows
the measurement behind the default budget and the trade-off with the
unique-token hit rate.

The token itself is never stored: the key is its SHA-256 digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .principal import Principal

if TYPE_CHECKING:  # pragma: no cover
    from .keys import KeyCache

__all__ = ["ENTRY_OVERHEAD_BYTES", "Cached", "TokenCache", "cost"]

#: One entry beyond its subject and email strings (see the module docstring).
ENTRY_OVERHEAD_BYTES = 420
#: Distinct shared values (issuers, audiences, group/scope lists) kept; past
#: this, values are simply not shared and each entry's estimate counts them.
MAX_SHARED = 4096

Shareable = Any  # a str or a tuple of str


def cost(value: str | tuple[str, ...] | None) -> int:
    """Estimated bytes of a str (CPython compact ASCII: 49 + length) or a tuple of them."""
    if value is None:
        return 0
    if isinstance(value, str):
        return 49 + len(value)
    return 40 + sum(57 + len(item) for item in value)


@dataclass(slots=True)
class Cached:
    """A verified token's principal and what a hit must re-check."""

    principal: Principal
    valid_until: float
    not_before: float
    cache: KeyCache | None
    kid: str
    thumbprint: str
    size: int = 0


class TokenCache:
    """SHA-256 digest → :class:`Cached`, within an entry and a byte budget."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: dict[bytes, Cached] = {}
        self._shared: dict[Shareable, Shareable] = {}

    @property
    def entries(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes) -> Cached | None:
        return self._entries.get(digest)

    def discard(self, digest: bytes) -> None:
        entry = self._entries.pop(digest, None)
        if entry is not None:
            self.bytes -= entry.size

    def put(self, digest: bytes, entry: Cached) -> None:
        if self.max_entries <= 0 or entry.size > self.max_bytes:
            return
        entries = self._entries
        while entries and (
            len(entries) >= self.max_entries or self.bytes + entry.size > self.max_bytes
        ):
            self.bytes -= entries.pop(next(iter(entries))).size
        entries[digest] = entry
        self.bytes += entry.size

    def share(self, value: Shareable) -> tuple[Shareable, int]:
        """The stored copy of ``value`` and what keeping it in one more entry
        costs (nothing when it is shared)."""
        shared = self._shared.get(value)
        if shared is not None:
            return shared, 0
        if len(self._shared) < MAX_SHARED:
            self._shared[value] = value
            return value, 0
        return value, cost(value)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
