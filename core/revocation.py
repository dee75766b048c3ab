"""What a sidecar knows about revoked access keys, with a stated staleness bound.

Access keys are JWTs signed by the operator (:mod:`authgate.operator.accesskeys`),
so a signature alone cannot tell a revoked key from a good one.  Each sidecar
therefore holds the issuer's *revocation list* — the jtis of keys that are
revoked, suspended or past a rotation's grace period — polled from the operator
(``GET <issuer>/revocations`` with ``If-None-Match``; see
:mod:`authgate.proxy.revocations`).  This module is the pure part: parsing the
list and deciding, per request, whether an access key may pass.

The bound, stated once: a key revoked at time *t* is refused by every sidecar
from *t + poll interval + one fetch* on.  When the list cannot be refreshed for
``max_stale_seconds`` (the operator is down or unreachable) the sidecar cannot
know about new revocations any more, so it **fails closed for access keys**
(``revocations_stale``) while IdP tokens, which never consult this list, keep
working.  Before the first successful fetch, access keys are refused too
(``revocations_unavailable``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from .errors import InvalidToken

__all__ = ["RevocationList", "RevocationListError"]

_JTI = re.compile(r"ak_[0-9a-f]{32}")
MAX_ENTRIES = 1_000_000


class RevocationListError(Exception):
    """A fetched revocation list is not one we can use (the previous one is kept)."""


class RevocationList:
    """The revocation state of one access-key issuer (thread-unsafe, loop-local)."""

    def __init__(
        self,
        issuer: str,
        max_stale_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.max_stale_seconds = max_stale_seconds
        self._clock = clock
        self.revoked: frozenset[str] = frozenset()
        self.kids: tuple[str, ...] = ()
        self.etag: str | None = None
        self.last_success: float | None = None
        self.updates = 0
        self.not_modified = 0
        self.failures = 0
        self.refusals = 0

    # -- updates (from the poller) ---------------------------------------------------

    def apply(self, body: bytes, etag: str | None) -> bool:
        """Install a fetched list; True when its published signing keys changed
        (the caller then refreshes the issuer's JWKS).  Raises
        :class:`RevocationListError` and keeps the previous list when ``body``
        is not a list for this issuer."""
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RevocationListError("the revocation list is not JSON") from None
        if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
            raise RevocationListError("the revocation list is for another issuer")
        revoked, kids = doc.get("revoked"), doc.get("kids", [])
        if not isinstance(revoked, list) or not isinstance(kids, list):
            raise RevocationListError("the revocation list has no 'revoked' array")
        if len(revoked) > MAX_ENTRIES or not all(
            isinstance(j, str) and _JTI.fullmatch(j) for j in revoked
        ):
            raise RevocationListError("the revocation list holds malformed entries")
        new_kids = tuple(sorted(str(k) for k in kids if isinstance(k, str)))
        changed = new_kids != self.kids
        self.revoked = frozenset(revoked)
        self.kids = new_kids
        self.etag = etag
        self.confirm()
        self.updates += 1
        return changed

    def confirm(self) -> None:
        """The list is current (a 200 was applied, or the operator answered 304)."""
        self.last_success = self._clock()

    def fail(self) -> None:
        self.failures += 1

    # -- state -----------------------------------------------------------------------

    @property
    def age(self) -> float | None:
        return None if self.last_success is None else self._clock() - self.last_success

    @property
    def stale(self) -> bool:
        age = self.age
        return age is None or age > self.max_stale_seconds

    # -- the per-request check -------------------------------------------------------

    def check(self, jti: str | None) -> None:
        """Refuse a revoked access key, or any access key while the list is stale."""
        if self.last_success is None:
            self.refusals += 1
            raise InvalidToken(
                "access keys cannot be checked yet (no revocation list)",
                reason="revocations_unavailable",
            )
        if self.stale:
            self.refusals += 1
            raise InvalidToken(
                "access keys are refused: the revocation list is stale (operator unreachable)",
                reason="revocations_stale",
            )
        if jti is None or jti in self.revoked:
            self.refusals += 1
            raise InvalidToken("the access key has been revoked or suspended", reason="key_revoked")
