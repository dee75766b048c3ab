"""An asyncio JWKS cache that an unreliable or hostile world cannot break.

Why not PyJWT's ``PyJWKClient``: it blocks the event loop, refetches on every
unknown ``kid`` (so random ``kid`` values turn into a request flood against
the IdP) and forgets its keys when a fetch fails.  :class:`KeyCache` is the
opposite on each point:

* **Async, injected I/O.**  It calls a :data:`~authgate.core.oidc.Fetcher`
  and never does network I/O itself; every fetch is bounded by
  ``keys.fetch_timeout_seconds``.
* **Background refresh with jitter**, so replicas do not hit the IdP in
  lockstep; failures back off exponentially (1 s, 2 s, ... up to the interval).
* **Unknown kid → at most one refetch in flight**, shared by every waiter,
  then a cooldown (``keys.unknown_kid_cooldown_seconds``) during which
  unknown kids are refused without I/O, and a bounded negative cache of kids
  that were still missing after a refetch.
* **Last good keys survive IdP failures** for ``keys.stale_max_age_seconds``
  after the last successful fetch; after that the cache fails closed
  (``keys_stale``).  ``ready`` is true only while usable keys are loaded.
* **Counters** (``fetches``, ``fetch_failures``, ``last_success``,
  ``refetches_for_unknown_kid``, ``unknown_kid_rejections``) for metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable

from .background import stop_task
from .config import KeyConfig
from .errors import InvalidToken
from .oidc import (
    DiscoveryError,
    Fetcher,
    FetchError,
    ProviderMetadata,
    VerificationKey,
    describe_skipped,
    fetch_provider_metadata,
    parse_jwks,
)

__all__ = ["KeyCache", "KeyFetchError"]

log = logging.getLogger("authgate.core.keys")

NEGATIVE_CACHE_SIZE = 4096
NEGATIVE_TTL_FLOOR = 10.0  # seconds a kid missing after a refetch is refused without I/O


class KeyFetchError(Exception):
    """A refresh failed: discovery, JWKS fetch, or a JWKS with no usable key."""


class KeyCache:
    """The signing keys of one issuer (see the module docstring)."""

    def __init__(
        self,
        issuer: str,
        fetch: Fetcher,
        settings: KeyConfig,
        *,
        jwks_uri: str | None = None,
        metadata_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._settings = settings
        self._jwks_uri_override = jwks_uri
        self._metadata_url = metadata_url
        self._clock = clock
        self._rng = rng
        self._keys: dict[str, VerificationKey] = {}
        self._negative: dict[str, float] = {}
        self._inflight: asyncio.Future[None] | None = None
        self._last_kid_refetch = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._consecutive_failures = 0
        self.metadata: ProviderMetadata | None = None
        self.fetches = 0
        self.fetch_failures = 0
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.refetches_for_unknown_kid = 0
        self.unknown_kid_rejections = 0

    # -- state -------------------------------------------------------------

    @property
    def key_count(self) -> int:
        return len(self._keys)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def stale(self) -> bool:
        """True when the keys are older than ``stale_max_age_seconds``."""
        if self.last_success is None:
            return True
        return self._clock() - self.last_success > self._settings.stale_max_age_seconds

    @property
    def ready(self) -> bool:
        """Usable keys are loaded and not stale."""
        return bool(self._keys) and not self.stale

    def current(self, kid: str) -> VerificationKey | None:
        """The key for ``kid`` right now, without I/O (None when unknown or stale)."""
        if self.stale:
            return None
        return self._keys.get(kid)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Load the keys once (a failure is logged, not raised: ``ready``
        stays false) and start the background refresh task."""
        with contextlib.suppress(KeyFetchError):
            await self.refresh()
        if self._task is None:
            self._task = asyncio.create_task(self._refresh_loop(), name=f"jwks:{self.issuer}")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    def _next_delay(self) -> float:
        interval = self._settings.refresh_interval_seconds
        if self._consecutive_failures:
            base = min(interval, 2.0 ** (self._consecutive_failures - 1))
        else:
            base = interval
        jitter = self._settings.refresh_jitter
        return max(0.5, base * (1.0 + jitter * (2.0 * self._rng() - 1.0)))

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._next_delay())
            with contextlib.suppress(KeyFetchError):
                await self.refresh()

    # -- fetching ----------------------------------------------------------

    async def refresh(self) -> None:
        """Fetch the keys now; concurrent callers share one fetch.  Raises
        :class:`KeyFetchError` on failure, keeping the previous keys."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._do_refresh())
            self._inflight.add_done_callback(self._clear_inflight)
        await asyncio.shield(self._inflight)

    def _clear_inflight(self, fut: asyncio.Future[None]) -> None:
        if self._inflight is fut:
            self._inflight = None
        if not fut.cancelled():
            fut.exception()  # mark retrieved: waiters get it via shield

    async def _get(self, url: str) -> bytes:
        async with asyncio.timeout(self._settings.fetch_timeout_seconds):
            result = await self._fetch(url)
        if result.status != 200:
            raise DiscoveryError(f"GET {url} answered HTTP {result.status}")
        return result.body

    async def _do_refresh(self) -> None:
        try:
            jwks_uri = self._jwks_uri_override
            if jwks_uri is None or self._metadata_url is not None:
                # With both set (a service-account issuer), the metadata is read to
                # check its issuer but the keys come from the configured JWKS URL.
                async with asyncio.timeout(self._settings.fetch_timeout_seconds):
                    self.metadata = await fetch_provider_metadata(
                        self.issuer, self._fetch, url=self._metadata_url
                    )
                jwks_uri = jwks_uri or self.metadata.jwks_uri
            self.fetches += 1
            skipped: list[str] = []
            keys = parse_jwks(await self._get(jwks_uri), skipped)
            if not keys:
                raise DiscoveryError("JWKS has no usable signing key" + describe_skipped(skipped))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # FetchError, DiscoveryError, timeouts, or a fetcher's own bug
            if not isinstance(exc, FetchError | DiscoveryError | TimeoutError | OSError):
                log.exception("JWKS fetcher raised an unexpected error")
            self.fetch_failures += 1
            self._consecutive_failures += 1
            self.last_error = str(exc) or type(exc).__name__
            log.warning(
                "JWKS refresh failed",
                extra={
                    "issuer": self.issuer,
                    "error": self.last_error,
                    "keys_kept": len(self._keys),
                },
            )
            raise KeyFetchError(self.last_error) from None
        self._keys = keys
        self._negative.clear()
        self._consecutive_failures = 0
        self.last_success = self._clock()
        self.last_error = None
        log.info("JWKS loaded", extra={"issuer": self.issuer, "keys": len(keys)})

    # -- lookup ------------------------------------------------------------

    def _find(self, kid: str | None, alg: str) -> VerificationKey | None:
        if kid is not None:
            return self._keys.get(kid)
        # No kid (RFC 7515 §4.1.4 makes it optional): usable only when one key fits.
        fitting = [k for k in self._keys.values() if alg in k.algorithms]
        return fitting[0] if len(fitting) == 1 else None

    def _unusable(self) -> InvalidToken | None:
        if not self._keys or self.last_success is None:
            return InvalidToken("signing keys are not available yet", reason="keys_unavailable")
        if self.stale:
            return InvalidToken("signing keys are stale (IdP unreachable)", reason="keys_stale")
        return None

    def _reject_unknown(self) -> InvalidToken:
        self.unknown_kid_rejections += 1
        return InvalidToken("the token's signing key is not known", reason="unknown_kid")

    async def get(self, kid: str | None, alg: str) -> VerificationKey:
        """The key to verify a token with header ``kid``/``alg``.

        Raises :class:`InvalidToken` with reason ``unknown_kid``,
        ``keys_unavailable`` or ``keys_stale``.  ``kid`` is an opaque string,
        only ever used as a dictionary key.
        """
        problem = self._unusable()
        if problem is None:
            found = self._find(kid, alg)
            if found is not None:
                return found
        now = self._clock()
        neg_key = kid if kid is not None else f"\x00{alg}"
        expiry = self._negative.get(neg_key)
        if expiry is not None and expiry > now and problem is None:
            raise self._reject_unknown()
        if self._inflight is None:
            if now - self._last_kid_refetch < self._settings.unknown_kid_cooldown_seconds:
                raise problem or self._reject_unknown()
            self._last_kid_refetch = now
            self.refetches_for_unknown_kid += 1
        with contextlib.suppress(KeyFetchError):
            await self.refresh()
        problem = self._unusable()
        if problem is not None:
            raise problem
        found = self._find(kid, alg)
        if found is not None:
            return found
        if len(self._negative) >= NEGATIVE_CACHE_SIZE:
            self._negative.pop(next(iter(self._negative)))
        self._negative[neg_key] = now + max(
            NEGATIVE_TTL_FLOOR, self._settings.unknown_kid_cooldown_seconds
        )
        raise self._reject_unknown()
